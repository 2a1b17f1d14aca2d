"""What scoring returns: a decision with its score, reasons and provenance."""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import ItemsView, Iterator, KeysView, Mapping, Sequence, ValuesView
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict

from fraudlens.schema import Transaction
from fraudlens.scoring.config import Decision

# Fixed namespace: a transaction always gets the same decision id, whichever
# model version or path (API, stream scorer) scores it, so a redelivered
# transaction, even one scored again after a promotion, is a duplicate the
# records sink drops (at-least-once delivery, idempotent ids: first stored wins).
_DECISION_NS = uuid.UUID("6f1d7c1e-5b0a-4f4e-9a53-3c1e1f0d2b7a")

SEVERITY: dict[str, int] = {"approve": 0, "review": 1, "decline": 2}


def case_facts(txn: Transaction) -> dict[str, Any]:
    """The transaction's facts carried with its decision, for the analyst judging the case.

    Of the card only its last four digits (PCI DSS truncation, where known);
    no device or IP (personal data). ``channel`` and ``entry_mode`` are kept
    as plain strings, their enums' values: the same JSON, and pydantic-core
    serializes a str faster than an enum. A dict display, not a loop over
    names: this runs for every scored row.
    """
    return {
        "card_last4": txn.card_last4,
        "amount": txn.amount,
        "currency": txn.currency,
        "terminal_id": txn.terminal_id,
        "merchant_id": txn.merchant_id,
        "mcc": txn.mcc,
        "channel": str.__str__(txn.channel),
        "entry_mode": str.__str__(txn.entry_mode),
        "country": txn.country,
    }


_NS_SHA1 = hashlib.sha1(_DECISION_NS.bytes, usedforsecurity=False)
# The bits ``uuid.UUID(..., version=5)`` sets: RFC 4122 variant, version 5.
_CLEAR = ~((0xC000 << 48) | (0xF000 << 64))
_SET = (0x8000 << 48) | (5 << 76)


def decision_id(transaction_id: str) -> str:
    """Deterministic id of the decision on one transaction (one decision per transaction).

    The model version is not part of it: a transaction scored again after a
    model switch (redelivery) must not become a second decision.
    ``uuid.uuid5(_DECISION_NS, transaction_id).hex``, without building a
    ``UUID`` (a third of the time; one id per scored row).
    """
    digest = _NS_SHA1.copy()
    digest.update(transaction_id.encode())
    value = int.from_bytes(digest.digest()[:16], "big") & _CLEAR | _SET
    return f"{value:032x}"


class Reason(BaseModel):
    """One reason behind a decision, in plain language.

    Attributes:
        kind: ``rule`` (a list or limit), ``model`` (a top contributing feature)
            or ``system`` (e.g. scored without stored history).
        code: rule name or feature name, stable for analysts' tooling.
        text: what an analyst reads.
        value: the feature or request value, when there is one.
        contribution: the feature's contribution to the model score.
    """

    model_config = ConfigDict(frozen=True)

    kind: Literal["rule", "model", "system"]
    code: str
    text: str
    value: float | None = None
    contribution: float | None = None


@dataclass(frozen=True, slots=True)
class RuleHit:
    """A rule that fired: block/allow list or hard limit."""

    name: str
    action: Decision
    text: str
    value: float | None = None


@dataclass(slots=True)
class ScoreResult:
    """The outcome of scoring one transaction."""

    transaction_id: str
    decision_id: str
    event_time: datetime
    card_token: str
    score: float | None
    decision: Decision
    reasons: list[Reason]
    model_version: str
    degraded: bool
    thresholds: tuple[float, float]
    rule_hits: list[str] = field(default_factory=list)
    features: Mapping[str, float] = field(default_factory=dict)  # scorer: a FeatureRow
    latency_ms: float = 0.0
    degraded_cause: str | None = None  # see fraudlens.scoring.scorer.DEGRADED_CAUSES
    transaction: dict[str, Any] = field(default_factory=dict)  # case_facts(txn)


class FeatureRow(Mapping[str, float]):
    """Row ``row`` of a batch's feature matrix as a read-only ``{name: value}`` mapping.

    Every result carries its feature vector, but only some readers look at it
    (the decision log, the sampled decisions on the topic): the dict is built
    on first use, not for every scored row. Pickled or copied, it becomes a
    plain dict (not the whole batch's matrix).

    Args:
        names: the feature names, in column order.
        values: the batch's matrix (rows x names); the caller must not change it.
        row: which row.
    """

    __slots__ = ("_names", "_values", "_row", "_dict")

    def __init__(self, names: Sequence[str], values: np.ndarray, row: int) -> None:
        self._names = names
        self._values = values
        self._row = row
        self._dict: dict[str, float] | None = None

    def _data(self) -> dict[str, float]:
        if self._dict is None:
            values = self._values[self._row].tolist()
            self._dict = dict(zip(self._names, values, strict=True))
        return self._dict

    def batch(self) -> tuple[Sequence[str], np.ndarray, int]:
        """The names, the batch's matrix this row is a view of, and the row."""
        return self._names, self._values, self._row

    def __getitem__(self, name: str) -> float:
        return self._data()[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._data())

    def __len__(self) -> int:
        return len(self._names)

    # The dict's own views: the Mapping defaults look every value up in Python.
    def keys(self) -> KeysView[str]:
        return self._data().keys()

    def items(self) -> ItemsView[str, float]:
        return self._data().items()

    def values(self) -> ValuesView[float]:
        return self._data().values()

    def __eq__(self, other: object) -> bool:
        return self._data() == (other._data() if isinstance(other, FeatureRow) else other)

    def __repr__(self) -> str:
        return repr(self._data())

    def __reduce__(self) -> tuple[type[dict[str, float]], tuple[dict[str, float]]]:
        return dict, (self._data(),)
