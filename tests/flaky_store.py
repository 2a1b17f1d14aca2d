"""A fake Feast store whose ``push`` fails a set number of times, then succeeds."""

from __future__ import annotations

from typing import Any


class FlakyStore:
    """Stands in for ``feast.FeatureStore.push``: raises ``error`` ``failures`` times first.

    Args:
        failures: calls that raise before the first success.
        error: the exception raised by a failing call.
    """

    def __init__(self, failures: int, error: BaseException) -> None:
        self.failures = failures
        self.error = error
        self.calls = 0
        self.pushed: list[tuple[str, int]] = []

    def push(self, source: str, frame: Any, to: Any = None) -> None:
        """Record a push of ``frame`` to ``source``, or fail while failures are left."""
        self.calls += 1
        if self.calls <= self.failures:
            raise self.error
        self.pushed.append((source, len(frame)))
