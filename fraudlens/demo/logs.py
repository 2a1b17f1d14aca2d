"""Where the demo's chatter goes: one log file under DATA_DIR, not the terminal.

The terminal shows the steps, tables and figures. Everything else (JSON log
records, Python warnings, Spark's and py4j's output, anything written to
stdout or stderr by this process or the processes it starts: the JVM, Ray's
raylet and GCS) goes to ``DATA_DIR/logs/demo.log``. Only the demo's rich
console keeps the terminal, through a copy of the original stdout.
Ray's workers keep to their own log files (``log_to_driver=False``).
The card-number scan of the last step reads this file like every other
file under DATA_DIR.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sys
import warnings
from collections.abc import Iterator
from pathlib import Path

from rich.console import Console
from rich.live import Live
from rich.spinner import Spinner

from fraudlens.log import JsonFormatter


def demo_log_path(data_dir: Path) -> Path:
    """The demo's log file: ``DATA_DIR/logs/demo.log``."""
    return data_dir / "logs" / "demo.log"


@contextlib.contextmanager
def logs_to_file(path: Path, level: str = "INFO", console: Console | None = None) -> Iterator[Path]:
    """Send logging, warnings, stdout and stderr (fds 1 and 2, child processes too) to ``path``.

    ``console`` keeps writing to the terminal (a duplicate of the original
    stdout). Everything is put back as it was on exit.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    root = logging.getLogger()
    saved_handlers, saved_level = root.handlers[:], root.level
    handler = logging.FileHandler(path, encoding="utf-8")
    handler.setFormatter(JsonFormatter())
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    logging.captureWarnings(True)
    sys.stdout.flush()
    sys.stderr.flush()
    saved_fds = os.dup(1), os.dup(2)
    log_file = open(path, "a", encoding="utf-8")  # noqa: SIM115 - closed below
    os.dup2(log_file.fileno(), 1)
    os.dup2(log_file.fileno(), 2)
    terminal = None
    if console is not None:
        # The console's own setting (None: follow sys.stdout), put back exactly on exit.
        saved_file = console._file
        encoding = getattr(sys.stdout, "encoding", None) or "utf-8"
        terminal = open(  # noqa: SIM115 - closed below
            saved_fds[0], "w", encoding=encoding, errors="replace", closefd=False
        )
        console.file = terminal
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("default")  # each warning once, into the log
            yield path
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        if console is not None and terminal is not None:
            terminal.close()
            console._file = saved_file
        for fd, saved in zip((1, 2), saved_fds, strict=True):
            os.dup2(saved, fd)
            os.close(saved)
        log_file.close()
        logging.captureWarnings(False)
        handler.close()
        root.handlers[:] = saved_handlers
        root.setLevel(saved_level)


@contextlib.contextmanager
def quiet_status(console: Console, text: str) -> Iterator[None]:
    """A spinner like ``console.status`` that leaves ``sys.stdout`` and ``sys.stderr`` alone.

    Rich's status routes Python's prints and stderr writes through the console
    while it spins, which would put library chatter back on the terminal.
    """
    with Live(
        Spinner("dots", text),
        console=console,
        transient=True,
        redirect_stdout=False,
        redirect_stderr=False,
    ):
        yield
