"""Which decisions carry their feature vector to the records database.

The decisions topic (and so the ``decisions`` table) holds the feature vector
of a deterministic sample of decisions, ``records.feature_sample_rate``. The
choice is a function of the decision id alone, so every replica makes the
same one and a redelivered or rescored decision (same id) makes it again.

The hash is MD5 (not for security: for agreement with PostgreSQL's ``md5()``):
a decision is sampled when the first 8 bytes of ``md5(decision_id)`` fall
below ``rate * 2**64``. The sampled decisions are then exactly the first ones
in ``md5(decision_id)`` order, the order in which the drift monitor's
records source draws its even sample of a window (``drift.sources``).
"""

from __future__ import annotations

import hashlib

_SPAN = 2**64


def feature_sampled(decision_id: str, rate: float) -> bool:
    """Whether the decision ``decision_id`` carries its features at sample ``rate``.

    Args:
        decision_id: the decision's id (``result.decision_id``: one per transaction).
        rate: share of decisions sampled, 0 (none) to 1 (all).
    """
    if rate >= 1.0:
        return True
    if rate <= 0.0:
        return False
    digest = hashlib.md5(decision_id.encode(), usedforsecurity=False).digest()
    return int.from_bytes(digest[:8], "big") < rate * _SPAN
