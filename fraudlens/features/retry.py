"""Retries with backoff for online-store writes (tenacity).

A Redis blip (a restart, a failover, a dropped connection) must not kill the
stream job: the push is idempotent (newest row per entity), so writing it again
is safe. Attempts are bounded; the wait grows exponentially with random jitter
so that replicas that failed together do not retry together. Each retry is
logged and counted; after the last attempt the error goes up to the caller.

Not for the online READ on the scoring path: that one has a 100 ms budget and
a circuit breaker instead.
"""

from __future__ import annotations

import logging
import sqlite3
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TypeVar

from tenacity import (
    RetryCallState,
    Retrying,
    retry_if_exception_type,
    stop_after_attempt,
    wait_exponential_jitter,
)

logger = logging.getLogger(__name__)

T = TypeVar("T")


def transient_errors() -> tuple[type[BaseException], ...]:
    """Errors of an online-store write worth another attempt.

    Connection and timeout errors (Redis, sockets) and SQLite's "database is
    locked" (``OperationalError``). Schema and value errors are not retried.
    """
    from redis.exceptions import ConnectionError as RedisConnectionError
    from redis.exceptions import TimeoutError as RedisTimeoutError

    return (
        ConnectionError,
        TimeoutError,
        RedisConnectionError,
        RedisTimeoutError,
        sqlite3.OperationalError,
    )


@dataclass(frozen=True)
class RetryPolicy:
    """Bounded retries with exponential backoff and jitter.

    Attributes:
        attempts: tries in all, the first one included (1 disables retries).
        initial_seconds: wait before the first retry (before jitter).
        max_seconds: cap of one wait.
        jitter_seconds: up to this much random time added to each wait.
        sleep: sleeps between attempts (tests pass a recorder).
    """

    attempts: int = 6
    initial_seconds: float = 0.2
    max_seconds: float = 5.0
    jitter_seconds: float = 0.2
    sleep: Callable[[float], None] = field(default=time.sleep, repr=False)

    def call(
        self,
        what: str,
        fn: Callable[[], T],
        *,
        on_retry: Callable[[], None] | None = None,
        retry_on: tuple[type[BaseException], ...] | None = None,
        sleep: Callable[[float], None] | None = None,
    ) -> T:
        """Run ``fn`` until it succeeds or the attempts run out.

        Args:
            what: a name of the write for the log line (no personal data).
            fn: the write; must be idempotent.
            on_retry: called once per retry (e.g. to count it).
            retry_on: exception types to retry; ``transient_errors()`` by default.
            sleep: sleeps between attempts; ``self.sleep`` by default.

        Returns:
            What ``fn`` returned.

        Raises:
            Exception: the last error of ``fn`` (or the first non-transient one).
        """

        def before_sleep(state: RetryCallState) -> None:
            error = state.outcome.exception() if state.outcome is not None else None
            wait = state.next_action.sleep if state.next_action is not None else 0.0
            logger.warning(
                "%s failed (attempt %d of %d), retrying in %.2f s: %s",
                what,
                state.attempt_number,
                self.attempts,
                wait,
                error,
            )
            if on_retry is not None:
                on_retry()

        retrying = Retrying(
            stop=stop_after_attempt(self.attempts),
            wait=wait_exponential_jitter(
                initial=self.initial_seconds, max=self.max_seconds, jitter=self.jitter_seconds
            ),
            retry=retry_if_exception_type(retry_on or transient_errors()),
            before_sleep=before_sleep,
            reraise=True,
            sleep=sleep or self.sleep,
        )
        return retrying(fn)
