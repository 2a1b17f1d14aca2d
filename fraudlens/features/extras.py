"""Passthrough columns: fields of the user's data that FraudLens does not know.

The import mapping declares them: ``extras: numeric: {name: default}`` for
numbers, ``extras: categorical: {name: default}`` for text. Each is the column
``x_<name>``: its value belongs to the transaction, so it is point-in-time by
construction. It travels with the transaction:

- import: a column ``x_<name>`` of ``transactions.parquet`` (float, or text
  for a categorical one); the declaration (names and defaults) is recorded in
  ``import.json`` under ``extras``;
- training: the columns ride on the history frame (the entity rows of the
  Feast join), next to the view's features. A numeric extra is the feature
  ``x_<name>``, its default in ``metadata["extras"]``; a categorical one is
  expanded into one-hot features by a vocabulary learned on the training rows
  (``fraudlens.features.categories``, kept in ``metadata["categorical"]``);
- serving and the stream: ``Transaction.extras`` (``{"name": value}``); a
  value the request lacks takes the model's declared default; a name the
  model does not use is ignored; a categorical value outside the vocabulary
  counts as ``other``.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from fraudlens.features.categories import SEPARATOR, Vocabulary, category_text
from fraudlens.features.registry import FEATURE_NAMES, FeatureSpec
from fraudlens.schema import (
    EXTRA_COLUMN_PREFIX,
    EXTRA_NAME_PATTERN,
    Transaction,
    extra_text,
    extra_value,
)

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
    if SEPARATOR in name:
        raise ValueError(f"extra {name!r}: {SEPARATOR} is kept for one-hot columns")
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


def describe(feature: str) -> str:
    """What a passthrough feature is: a numeric extra, or one value of a categorical one."""
    name, sep, slot = feature.removeprefix(PREFIX).partition(SEPARATOR)
    if not sep:
        return spec(name).description
    which = "a value outside its vocabulary" if slot == "other" else f"its value number {slot}"
    return f"passthrough column {name} from the import: {which} (one-hot)"


class ExtrasMapping(BaseModel):
    """The ``extras:`` part of an import mapping.

    Attributes:
        numeric: your column -> its default, used when a value is missing.
        categorical: your text column -> its default, used when a value is missing;
            training turns it into one-hot features (``fraudlens.features.categories``).
    """

    model_config = ConfigDict(extra="forbid")

    numeric: dict[str, float] = Field(default_factory=dict)
    categorical: dict[str, str] = Field(default_factory=dict)

    @field_validator("numeric", mode="before")
    @classmethod
    def _numeric(cls, value: Any) -> Any:
        if not isinstance(value, dict):
            return value
        return {
            check_name(str(k)): extra_value(str(k), v, numbers_only=False) for k, v in value.items()
        }

    @field_validator("categorical", mode="before")
    @classmethod
    def _categorical(cls, value: Any) -> Any:
        if not isinstance(value, dict):
            raise ValueError(
                "a mapping of your text column to its default (e.g. device_type: unknown)"
            )
        out: dict[str, str] = {}
        for key, default in value.items():
            name = check_name(str(key))
            text = category_text(default)
            if text is None:
                raise ValueError(f"extra {name}: needs a default text")
            out[name] = extra_text(name, text)
        return out

    @model_validator(mode="after")
    def _disjoint(self) -> ExtrasMapping:
        both = sorted(set(self.numeric) & set(self.categorical))
        if both:
            raise ValueError(f"extra(s) {', '.join(both)} declared both numeric and categorical")
        return self

    @property
    def names(self) -> list[str]:
        """Every declared extra, numeric then categorical."""
        return [*self.numeric, *self.categorical]


def declared(info: Mapping[str, Any]) -> ExtrasMapping:
    """The extras recorded in ``import.json`` (none declared: empty).

    Raises:
        ValueError: the record is invalid.
    """
    raw = info.get(METADATA_KEY) or {}
    if not isinstance(raw, Mapping):
        return ExtrasMapping()
    return ExtrasMapping(numeric=raw.get("numeric") or {}, categorical=raw.get("categorical") or {})


def model_defaults(model: object) -> dict[str, float]:
    """The extras a model was trained with (name -> default), from its metadata."""
    metadata = getattr(model, "metadata", None)
    if not isinstance(metadata, Mapping):
        return {}
    raw = metadata.get(METADATA_KEY) or {}
    return {str(k): float(v) for k, v in raw.items()} if isinstance(raw, Mapping) else {}


def _number(value: float | str | None) -> float:
    """A sent numeric value; text that is not a number is missing (NaN)."""
    if value is None:
        return math.nan
    try:
        return extra_value("", value, numbers_only=False)
    except ValueError:
        return math.nan


def fill_request_extras(
    frame: pd.DataFrame,
    extras: Sequence[Mapping[str, float | str] | None],
    defaults: Mapping[str, float],
    vocabularies: Sequence[Vocabulary] = (),
) -> None:
    """Set the ``x_*`` columns of ``frame`` (one row per transaction) from the requests.

    A numeric value the request lacks takes the model's default; a numeric
    feature without a declared default, or sent as text that is not a number,
    stays NaN (missing: the row is scored degraded). A categorical extra fills
    its one-hot columns through its vocabulary (``Vocabulary.encode``: missing
    takes the default, an unknown value is ``other``). Names the model does
    not use are ignored.
    """
    onehot: set[str] = set()
    for vocab in vocabularies:
        if vocab.columns[0] in frame.columns:
            values = [sent.get(vocab.name) if sent else None for sent in extras]
            frame[vocab.columns] = vocab.encode(values)
        onehot.update(vocab.columns)
    for feature in [c for c in frame.columns if is_extra(str(c)) and c not in onehot]:
        name = str(feature)[len(PREFIX) :]
        default = defaults.get(name, math.nan)
        frame[feature] = np.array(
            [default if not sent or name not in sent else _number(sent[name]) for sent in extras],
            dtype=np.float64,
        )
