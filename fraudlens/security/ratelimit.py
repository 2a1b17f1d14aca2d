"""Per-caller rate limiting: in process (token bucket) or shared through Redis.

``TokenBucketLimiter``: each caller (API key id or token subject) has a bucket
of ``burst`` tokens refilled at ``rate`` tokens a second; a request takes one.
The state lives in the replica, so N Serve replicas allow up to N times the
rate. It is what ``security.rate_limit_storage = memory://`` (the default) gives.

``SharedRateLimiter``: the counters live in Redis (the ``limits`` package), so
every replica takes from one budget. Strategy: sliding window counter. A fixed
window lets a caller send twice the limit across a window boundary; a moving
window is exact but keeps one Redis sorted-set entry per request (2000 entries
per caller at the default burst); the sliding window counter keeps two
counters per caller and weights the previous window, so it is smooth, O(1) in
memory and one Lua call per request. The window is ``burst / rate`` seconds
(at least 1 s) and admits ``rate * window`` requests, the token bucket's burst.

When Redis cannot be reached the limiter FAILS OPEN: the request goes through
(authentication and roles still apply), a warning is logged (at most every
10 s) and ``fraudlens_rate_limit_storage_errors_total`` counts it. Scoring
payments must not stop because the limiter's store is down; a caller can
exceed its rate only while Redis is down, and the alert on the counter says so.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Protocol

from fraudlens.errors import ConfigError, RateLimitError

if TYPE_CHECKING:
    from fraudlens.scoring.metric_backends import Metric

logger = logging.getLogger(__name__)

MEMORY = "memory://"
STORAGE_ERRORS = "fraudlens_rate_limit_storage_errors"
_LOG_EVERY_S = 10.0
_metric_lock = threading.Lock()
_storage_errors: Metric | None = None


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


class SharedRateLimiter:
    """Rate limits shared by every replica through a ``limits`` storage (Redis).

    Args:
        storage_uri: ``redis://[:password@]host:port/db``, ``rediss://...``,
            ``redis+sentinel://...`` (any ``limits`` storage URI).
        rate: requests per second per caller (the default; ``check`` may override).
        burst: requests allowed at once; the window is ``burst / rate`` seconds.
        errors: counts storage errors (default: the process-wide counter
            ``fraudlens_rate_limit_storage_errors_total``).
        timeout: seconds a Redis call may take before it counts as an outage.

    Raises:
        ConfigError: the URI names no storage ``limits`` knows.
    """

    def __init__(
        self,
        storage_uri: str,
        rate: float,
        burst: int,
        *,
        errors: Metric | None = None,
        timeout: float = 0.05,
    ) -> None:
        from limits.errors import ConfigurationError
        from limits.storage import storage_from_string
        from limits.strategies import SlidingWindowCounterRateLimiter

        if rate <= 0 or burst < 1:
            raise ValueError("rate must be > 0 and burst >= 1")
        self.rate = rate
        self.burst = burst
        self.window = max(1, math.ceil(burst / rate))
        options: dict[str, Any] = {"wrap_exceptions": True}
        if storage_uri.split(":", 1)[0].startswith(("redis", "rediss", "valkey")):
            options |= {"socket_timeout": timeout, "socket_connect_timeout": timeout}
        try:
            self._storage = storage_from_string(storage_uri, **options)
            self._limiter = SlidingWindowCounterRateLimiter(self._storage)
        except (ConfigurationError, ValueError, NotImplementedError) as exc:
            scheme = storage_uri.split("://", 1)[0]
            raise ConfigError(
                f"security.rate_limit_storage: unusable storage {scheme!r}: {exc}"
            ) from exc
        self._errors = errors
        self._last_warning = -math.inf

    def _item(self, rate: float) -> Any:
        from limits import RateLimitItemPerSecond

        amount = max(1, round(rate * self.window))
        return RateLimitItemPerSecond(amount, self.window, namespace="fraudlens")

    def check(self, caller: str, rate: float | None = None) -> None:
        """Count one request of ``caller`` (at ``rate`` if given) or raise.

        Raises:
            RateLimitError: the caller's window is full; ``retry_after`` says
                when the oldest requests leave it.
        """
        from limits.errors import StorageError

        item = self._item(rate or self.rate)
        try:
            if self._limiter.hit(item, caller):
                return
            stats = self._limiter.get_window_stats(item, caller)
        except StorageError as exc:
            self._storage_error(exc)
            return
        retry_after = max(0.001, min(float(self.window), stats.reset_time - time.time()))
        raise RateLimitError("rate limit exceeded", retry_after=retry_after)

    def _storage_error(self, exc: Exception) -> None:
        (self._errors or storage_error_counter()).inc()
        now = time.monotonic()
        if now - self._last_warning >= _LOG_EVERY_S:
            self._last_warning = now
            logger.warning(
                "rate-limit storage unreachable, requests pass unlimited (fail open): %s",
                exc,
            )


def storage_error_counter() -> Metric:
    """The process-wide counter of rate-limit storage errors, made on first use.

    Inside a Ray Serve replica it goes through Ray's metrics agent; elsewhere to
    the default Prometheus registry.
    """
    global _storage_errors
    with _metric_lock:
        if _storage_errors is None:
            from prometheus_client import REGISTRY

            from fraudlens.scoring.metric_backends import (
                PrometheusBackend,
                RayBackend,
                in_serve_replica,
            )

            backend = RayBackend() if in_serve_replica() else PrometheusBackend(REGISTRY)
            _storage_errors = backend.counter(
                STORAGE_ERRORS, "Rate-limit checks that could not reach the storage (fail open)"
            )
        return _storage_errors


def limiter_from_settings(storage_uri: str, rate: float, burst: int) -> RateLimiter:
    """The in-process token bucket for ``memory://``, else a ``SharedRateLimiter``."""
    if storage_uri == MEMORY:
        return TokenBucketLimiter(rate, burst)
    return SharedRateLimiter(storage_uri, rate, burst)
