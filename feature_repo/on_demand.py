"""Request-time features: state + the transaction being scored -> feature values.

The UDF bodies only import and call ``fraudlens.features.odfv``: Feast stores
and re-executes the source of these functions, and the feature code itself
lives once, in ``fraudlens.features.definitions``.

The terminal UDF's one parameter, the matured-window delay, comes from
``FRAUDLENS_FEATURES__MATURED_DELAY_DAYS`` (the settings field
``features.matured_delay_days``; ``fraudlens features apply`` sets it from the
settings). It is written into the UDF's source as a literal, because Feast
re-executes that source text alone, and into the view's tags
(``matured_delay_days``): the registry says which delay the store was applied
with, and serving compares it with the model's and the settings' (a changed
delay shows as a changed view in ``feast plan``).
"""

from __future__ import annotations

import os
from typing import Any

from data_sources import transaction_request
from feast import Field
from feast.on_demand_feature_view import OnDemandFeatureView, on_demand_feature_view
from feast.types import Float64, Int64, PrimitiveFeastType
from feature_views import card_state, terminal_state

from fraudlens.features.registry import CARD_FEATURES, TERMINAL_FEATURES, FeatureSpec
from fraudlens.features.state import DEFAULT_MATURED_DELAY_DAYS

MATURED_DELAY_DAYS = int(
    os.environ.get("FRAUDLENS_FEATURES__MATURED_DELAY_DAYS", DEFAULT_MATURED_DELAY_DAYS)
)

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


_TERMINAL_UDF = f"""def terminal_request_features(inputs: dict) -> dict:
    from fraudlens.features.odfv import terminal_feature_columns

    return terminal_feature_columns(inputs, matured_delay_days={MATURED_DELAY_DAYS})
"""


def _compiled(source: str, name: str) -> Any:
    # "__main__", as Feast's decorator marks a UDF: dill then never looks for this module.
    namespace: dict[str, Any] = {"__name__": "__main__"}
    exec(compile(source, f"<{name}>", "exec"), namespace)  # our own literal source
    return namespace[name]


terminal_request_features = OnDemandFeatureView(
    name="terminal_request_features",
    sources=[terminal_state, transaction_request],
    schema=_schema(TERMINAL_FEATURES),
    mode="python",
    description="Terminal risk at request time (counts, fraud known by then; matured "
    f"windows end {MATURED_DELAY_DAYS} days before today).",
    tags={"matured_delay_days": str(MATURED_DELAY_DAYS)},
    udf=_compiled(_TERMINAL_UDF, "terminal_request_features"),
    udf_string=_TERMINAL_UDF,
)
