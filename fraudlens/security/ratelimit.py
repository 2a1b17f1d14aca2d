"""Per-caller token-bucket rate limiting (in process).

Each caller (API key id or token subject) has a bucket of ``burst`` tokens
refilled at ``rate`` tokens a second; a request takes one. The state lives in
the replica, so N Serve replicas allow up to N times the rate: set the limit
per replica, or put a shared limiter (Redis) behind the same interface.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Protocol

from fraudlens.errors import RateLimitError


class RateLimiter(Protocol):
    """What ``Authenticator`` needs from a limiter."""

    def check(self, caller: str, rate: float | None = None) -> None:
        """Take one token for ``caller`` or raise ``RateLimitError``."""


class TokenBucketLimiter:
    """Thread-safe token buckets keyed by caller, least recently used evicted.

    Args:
        rate: tokens added per second (the sustained requests/s).
        burst: bucket size (the requests allowed at once).
        max_callers: buckets kept; the oldest idle one is dropped beyond it.
        clock: monotonic seconds (tests pass a fake clock).
    """

    def __init__(
        self,
        rate: float,
        burst: int,
        *,
        max_callers: int = 10_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if rate <= 0 or burst < 1:
            raise ValueError("rate must be > 0 and burst >= 1")
        self.rate = rate
        self.burst = burst
        self._max = max_callers
        self._clock = clock
        self._lock = threading.Lock()
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()

    def check(self, caller: str, rate: float | None = None) -> None:
        """Take one token for ``caller`` (at ``rate`` if given) or raise.

        Raises:
            RateLimitError: the bucket is empty; ``retry_after`` says when the
                next token arrives.
        """
        rate = rate or self.rate
        burst = float(self.burst)
        now = self._clock()
        with self._lock:
            tokens, last = self._buckets.pop(caller, (burst, now))
            tokens = min(burst, tokens + (now - last) * rate)
            allowed = tokens >= 1.0
            if allowed:
                tokens -= 1.0
            self._buckets[caller] = (tokens, now)
            if len(self._buckets) > self._max:
                self._buckets.popitem(last=False)
        if not allowed:
            raise RateLimitError("rate limit exceeded", retry_after=(1.0 - tokens) / rate)
