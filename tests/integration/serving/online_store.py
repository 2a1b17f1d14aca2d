"""Stopping and restarting the serving tests' online store."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from fraudlens.redis_server import EmbeddedRedis


@dataclass
class OnlineStoreSwitch:
    """Stops the online store, and starts it again refilled by ``refill``."""

    redis: EmbeddedRedis
    refill: Callable[[], None]

    def stop(self) -> None:
        self.redis.stop()

    def restart(self) -> None:
        """Start and refill the store if it is stopped."""
        if self.redis.proc is None:
            self.redis.start()
            self.refill()
