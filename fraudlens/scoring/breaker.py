"""A half-open circuit breaker around the online feature store.

closed --failure--> open --after open_s--> half-open (ONE probe read)
half-open --probe succeeds--> closed;  half-open --probe fails--> open

While open, and while the probe is in flight, every other request is scored
degraded at once instead of waiting on a store that just failed. A store that
has never answered yet (cold: registry load, first connection) is "warming":
its slow first read is not an outage, so a timeout then does not open the
breaker (an error still does).
"""

from __future__ import annotations

import threading
import time
from enum import StrEnum


class Ticket(StrEnum):
    """What ``Breaker.acquire`` allows the caller to do."""

    READ = "read"  # breaker closed: a normal read
    PROBE = "probe"  # breaker half-open: this caller is the one probe
    SKIP = "skip"  # breaker open or a probe in flight: score degraded


class Breaker:
    """Thread-safe half-open breaker (see the module docstring).

    Args:
        open_s: how long requests skip the store after a failure before one probes it.
    """

    def __init__(self, open_s: float = 2.0) -> None:
        self.open_s = open_s
        self.warm = False  # the store has answered at least once
        self._open_until: float | None = None  # None: closed
        self._probing = False
        self._lock = threading.Lock()

    @property
    def state(self) -> str:
        """``closed``, ``open`` or ``half-open`` (a probe is in flight)."""
        with self._lock:
            if self._open_until is None:
                return "closed"
            return "half-open" if self._probing else "open"

    def acquire(self) -> Ticket:
        """May the caller read the store now, and as what?"""
        with self._lock:
            if self._open_until is None:
                return Ticket.READ
            if self._probing or time.monotonic() < self._open_until:
                return Ticket.SKIP
            self._probing = True
            return Ticket.PROBE

    def success(self, ticket: Ticket) -> None:
        """A read answered in time: the store is warm; a probe closes the breaker."""
        with self._lock:
            self.warm = True
            if ticket is Ticket.PROBE:
                self._open_until = None
                self._probing = False

    def failure(self, ticket: Ticket, *, timeout: bool) -> bool:
        """A read failed or overran its budget.

        Returns:
            True if the breaker (re)opened; False for a timeout of a store that
            is still warming up (not an outage).
        """
        with self._lock:
            if ticket is Ticket.PROBE:
                self._probing = False
            elif timeout and not self.warm:
                return False
            self._open_until = time.monotonic() + self.open_s
            return True

    def late_success(self) -> None:
        """A read that overran its budget finished after all: the store is warm."""
        with self._lock:
            self.warm = True
