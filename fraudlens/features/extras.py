"""Passthrough columns: numeric fields of the user's data that FraudLens does not know.

The import mapping declares them (``extras: numeric: {name: default}``). Each
becomes the feature ``x_<name>``: its value belongs to the transaction, so it
is point-in-time by construction. It travels with the transaction:

- import: a column ``x_<name>`` of ``transactions.parquet``; the declaration
  (names and defaults) is recorded in ``import.json`` under ``extras``;
- training: the columns ride on the history frame (the entity rows of the
  Feast join), next to the view's features; the model records them in its
  feature names and their defaults in ``metadata["extras"]``;
- serving and the stream: ``Transaction.extras`` (``{"name": value}``); a
  value the request lacks takes the model's declared default; a name the
  model does not use is ignored.

Categorical extras are not supported yet: the mapping refuses them by name.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, field_validator

from fraudlens.features.registry import FEATURE_NAMES, FeatureSpec
from fraudlens.schema import EXTRA_COLUMN_PREFIX, EXTRA_NAME_PATTERN, Transaction, extra_value

PREFIX = EXTRA_COLUMN_PREFIX
METADATA_KEY = "extras"
_NAME = re.compile(EXTRA_NAME_PATTERN)
# Names an extra may not take: the schema's fields and the mapping's other keys.
RESERVED = frozenset(
    {*Transaction.model_fields, "pan", "card_reference", "is_fraud", "label_time", "fraud_scenario"}
)


def check_name(name: str) -> str:
    """An extra's name, if it is identifier-like and clashes with nothing built in.

    Raises:
        ValueError: naming the extra and why it is refused.
    """
    if not _NAME.match(name):
        raise ValueError(f"extra {name!r}: a name is a letter then up to 47 letters, digits or _")
    if name in RESERVED or name in FEATURE_NAMES or column(name) in FEATURE_NAMES:
        raise ValueError(f"extra {name!r}: clashes with a built-in field or feature")
    return name


def column(name: str) -> str:
    """The column (and feature) name of an extra: ``x_<name>``."""
    return PREFIX + name


def is_extra(feature: str) -> bool:
    """True for a passthrough feature (``x_*``)."""
    return feature.startswith(PREFIX)


def spec(name: str) -> FeatureSpec:
    """The registry entry of a numeric extra."""
    return FeatureSpec(
        column(name), "float64", "transaction", f"passthrough column {name} from the import"
    )


class ExtrasMapping(BaseModel):
    """The ``extras:`` part of an import mapping.

    Attributes:
        numeric: your column -> its default, used when a value is missing.
        categorical: refused for now ("not supported yet").
    """

    model_config = ConfigDict(extra="forbid")

    numeric: dict[str, float] = Field(default_factory=dict)
    categorical: list[str] = Field(default_factory=list)

    @field_validator("numeric", mode="before")
    @classmethod
    def _numeric(cls, value: Any) -> Any:
        if not isinstance(value, dict):
            return value
        return {
            check_name(str(k)): extra_value(str(k), v, numbers_only=False) for k, v in value.items()
        }

    @field_validator("categorical")
    @classmethod
    def _categorical(cls, value: list[str]) -> list[str]:
        if value:
            raise ValueError(
                f"categorical extras ({', '.join(value)}) are not supported yet: "
                "declare numeric extras only, or encode the column as numbers yourself"
            )
        return value


def declared(info: Mapping[str, Any]) -> dict[str, float]:
    """The numeric extras (name -> default) recorded in ``import.json`` (empty if none)."""
    raw = info.get(METADATA_KEY) or {}
    numeric = raw.get("numeric", {}) if isinstance(raw, Mapping) else {}
    return {
        check_name(str(k)): extra_value(str(k), v, numbers_only=False) for k, v in numeric.items()
    }


def model_defaults(model: object) -> dict[str, float]:
    """The extras a model was trained with (name -> default), from its metadata."""
    metadata = getattr(model, "metadata", None)
    if not isinstance(metadata, Mapping):
        return {}
    raw = metadata.get(METADATA_KEY) or {}
    return {str(k): float(v) for k, v in raw.items()} if isinstance(raw, Mapping) else {}


def fill_request_extras(
    frame: pd.DataFrame,
    extras: Sequence[Mapping[str, float] | None],
    defaults: Mapping[str, float],
) -> None:
    """Set the ``x_*`` columns of ``frame`` (one row per transaction) from the requests.

    A value the request lacks takes the model's default; a feature without a
    declared default stays NaN (missing: the row is scored degraded). Names the
    model does not use are ignored.
    """
    for feature in [c for c in frame.columns if is_extra(str(c))]:
        name = str(feature)[len(PREFIX) :]
        default = defaults.get(name, math.nan)
        frame[feature] = np.array(
            [default if not sent or name not in sent else sent[name] for sent in extras],
            dtype=np.float64,
        )
