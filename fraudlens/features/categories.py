"""Categorical passthrough columns as numbers: a vocabulary per extra, then one-hot columns.

An import mapping may declare text columns (``extras: categorical: {name:
default}``). Training learns a ``Vocabulary`` per such extra from its
training rows only: the most frequent values seen in at least ``min_count``
rows, at most ``max_categories`` of them. The model stores it in its
metadata (``metadata["categorical"]``) and takes one numeric column per
value, ``x_<name>__<i>``, plus ``x_<name>__other`` for every value outside
the vocabulary (rare in training, or never seen). ``Vocabulary.encode`` is the
one expansion: training frames (``with_onehot``) and request vectors
(``fraudlens.features.extras.fill_request_extras``) both go through it. A
missing value takes the declared default before it is encoded.
"""

from __future__ import annotations

import numbers
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from fraudlens.schema import EXTRA_COLUMN_PREFIX

METADATA_KEY = "categorical"
OTHER = "other"
SEPARATOR = "__"  # between an extra's name and its value's slot; no extra name holds it


def category_text(value: Any) -> str | None:
    """A categorical value as text; None when missing (None, NaN, empty text).

    A number becomes its text (``12`` and ``12.0`` both ``"12"``), so a code
    read from a number column, or sent as a JSON number, meets the same value
    as the text one.
    """
    if isinstance(value, str):
        return value.strip() or None
    if value is None or (pd.api.types.is_scalar(value) and pd.isna(value)):
        return None  # None, NaN, pd.NA (a nullable text column's empty cell)
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, numbers.Integral):
        return str(int(value))
    if isinstance(value, numbers.Real):
        number = float(value)
        return str(int(number)) if number.is_integer() else repr(number)
    return str(value)


@dataclass(frozen=True)
class Vocabulary:
    """The values of one categorical extra that get their own column.

    Attributes:
        name: the extra's name (its raw column is ``x_<name>``).
        default: the value a missing one takes.
        values: the values with a column, most frequent first.
    """

    name: str
    default: str
    values: tuple[str, ...]
    _index: dict[str, int] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_index", {v: i for i, v in enumerate(self.values)})

    @property
    def column(self) -> str:
        """The raw text column of the extra: ``x_<name>``."""
        return EXTRA_COLUMN_PREFIX + self.name

    @property
    def columns(self) -> list[str]:
        """The model's columns: one per value, then the ``other`` one."""
        stem = f"{self.column}{SEPARATOR}"
        return [f"{stem}{i}" for i in range(len(self.values))] + [stem + OTHER]

    def value(self, raw: Any) -> str:
        """The text a raw value stands for: the default when it is missing."""
        text = category_text(raw)
        return self.default if text is None else text

    def encode(self, raw: Iterable[Any]) -> np.ndarray:
        """One-hot rows ``(n, len(values) + 1)``: a value outside the vocabulary is ``other``.

        A column (``pd.Series``, training) reads each distinct value once; a
        request's few values are read one by one, through the same ``value``.
        """
        other = len(self.values)
        if isinstance(raw, pd.Series):
            codes, uniques = _factorize(raw)
            slot = np.fromiter(
                (self._index.get(self.value(u), other) for u in uniques),
                dtype=np.intp,
                count=len(uniques),
            )[codes]
        else:
            slot = np.fromiter((self._index.get(self.value(v), other) for v in raw), dtype=np.intp)
        out = np.zeros((len(slot), other + 1), dtype=np.float64)
        out[np.arange(len(slot)), slot] = 1.0
        return out

    def to_json(self) -> dict[str, Any]:
        """What the model metadata keeps."""
        return {"default": self.default, "values": list(self.values)}


def _factorize(raw: Iterable[Any]) -> tuple[np.ndarray, Sequence[Any]]:
    """Codes into the distinct raw values (missing ones included), and those values."""
    series = raw if isinstance(raw, pd.Series) else pd.Series(list(raw), dtype=object)
    codes, uniques = pd.factorize(series.astype(object), use_na_sentinel=False)
    return np.asarray(codes, dtype=np.intp), list(uniques)


def learn_vocabulary(
    name: str, default: str, raw: Iterable[Any], min_count: int, max_categories: int
) -> Vocabulary:
    """The vocabulary of one extra from its training values.

    Values seen in at least ``min_count`` rows, the ``max_categories`` most
    frequent (ties by text, so the same rows give the same vocabulary).
    """
    codes, uniques = _factorize(raw)
    rows = np.bincount(codes, minlength=len(uniques))
    empty = Vocabulary(name, default, ())
    counts: dict[str, int] = {}
    for value, n in zip(uniques, rows.tolist(), strict=True):
        text = empty.value(value)  # 12 and "12" are one value; missing is the default
        counts[text] = counts.get(text, 0) + n
    kept = sorted(
        ((n, v) for v, n in counts.items() if n >= min_count),
        key=lambda item: (-item[0], item[1]),
    )
    return Vocabulary(name, default, tuple(v for _, v in kept[:max_categories]))


def learn(
    frame: pd.DataFrame, declared: Mapping[str, str], min_count: int, max_categories: int
) -> list[Vocabulary]:
    """A vocabulary per declared extra (name -> default) from the raw columns of ``frame``."""
    return [
        learn_vocabulary(
            name, default, frame[EXTRA_COLUMN_PREFIX + name], min_count, max_categories
        )
        for name, default in declared.items()
    ]


def onehot_names(vocabularies: Sequence[Vocabulary]) -> list[str]:
    """Every one-hot column of the vocabularies, in order."""
    return [c for v in vocabularies for c in v.columns]


def with_onehot(frame: pd.DataFrame, vocabularies: Sequence[Vocabulary]) -> pd.DataFrame:
    """``frame`` (holding the raw ``x_<name>`` columns) plus the one-hot columns.

    Raises:
        KeyError: a raw column is missing.
    """
    if not vocabularies:
        return frame
    parts = [
        pd.DataFrame(v.encode(frame[v.column]), columns=v.columns, index=frame.index)
        for v in vocabularies
    ]
    kept = frame.drop(columns=[c for c in onehot_names(vocabularies) if c in frame.columns])
    return pd.concat([kept, *parts], axis=1)


def to_metadata(vocabularies: Sequence[Vocabulary]) -> dict[str, Any]:
    """The vocabularies as the model metadata keeps them (name -> default and values)."""
    return {v.name: v.to_json() for v in vocabularies}


def from_metadata(metadata: Any) -> list[Vocabulary]:
    """The vocabularies a model's metadata holds (empty: none, or not a mapping)."""
    if not isinstance(metadata, Mapping):
        return []
    raw = metadata.get(METADATA_KEY) or {}
    if not isinstance(raw, Mapping):
        return []
    return [
        Vocabulary(str(name), str(item["default"]), tuple(str(v) for v in item["values"]))
        for name, item in raw.items()
    ]


def model_vocabularies(model: object) -> list[Vocabulary]:
    """The vocabularies a model was trained with (``metadata["categorical"]``)."""
    return from_metadata(getattr(model, "metadata", None))


def reason_text(
    vocabularies: Sequence[Vocabulary], sent: Mapping[str, Any] | None
) -> Callable[[str, float], str | None]:
    """Plain words for a one-hot column of one request: its extra and the value sent.

    Returns a function (feature, value) -> sentence, or None for any other feature.
    """
    by_column = {c: (v, i) for v in vocabularies for i, c in enumerate(v.columns)}

    def sentence(feature: str, value: float) -> str | None:
        found = by_column.get(feature)
        if found is None:
            return None
        vocab, slot = found
        actual = vocab.value((sent or {}).get(vocab.name))
        if slot == len(vocab.values):
            where = "rare or unseen" if value >= 0.5 else "common"
            return f"{vocab.name} is '{actual}', a value {where} in training"
        if value >= 0.5:
            return f"{vocab.name} is '{actual}'"
        return f"{vocab.name} is '{actual}', not '{vocab.values[slot]}'"

    return sentence
