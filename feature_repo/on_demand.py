"""Request-time features: state + the transaction being scored -> feature values.

The UDF bodies only import and call ``fraudlens.features.odfv``: Feast stores
and re-executes the source of these functions, and the feature code itself
lives once, in ``fraudlens.features.definitions``.
"""

from __future__ import annotations

from data_sources import transaction_request
from feast import Field
from feast.on_demand_feature_view import on_demand_feature_view
from feast.types import Float64, Int64, PrimitiveFeastType
from feature_views import card_state, terminal_state

from fraudlens.features.registry import CARD_FEATURES, TERMINAL_FEATURES, FeatureSpec

_TYPES: dict[str, PrimitiveFeastType] = {"int64": Int64, "float64": Float64}


def _schema(specs: tuple[FeatureSpec, ...]) -> list[Field]:
    # No per-field descriptions: Feast compares these fields with the ones it
    # infers by running the UDF, which carry none. The meanings live in
    # fraudlens.features.registry.
    return [Field(name=s.name, dtype=_TYPES[s.dtype]) for s in specs]


@on_demand_feature_view(
    sources=[card_state, transaction_request],
    schema=_schema(CARD_FEATURES),
    mode="python",
    description="Card behaviour at request time (windows, amount vs usual, travel).",
)
def card_request_features(inputs: dict) -> dict:
    from fraudlens.features.odfv import card_feature_columns

    return card_feature_columns(inputs)


@on_demand_feature_view(
    sources=[terminal_state, transaction_request],
    schema=_schema(TERMINAL_FEATURES),
    mode="python",
    description="Terminal risk at request time (counts, fraud known by then).",
)
def terminal_request_features(inputs: dict) -> dict:
    from fraudlens.features.odfv import terminal_feature_columns

    return terminal_feature_columns(inputs)
