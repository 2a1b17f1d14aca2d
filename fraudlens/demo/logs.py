"""Where the demo's chatter goes: one log file under DATA_DIR, not the terminal.

The terminal shows the steps, tables and figures. Everything else (JSON log
records, Python warnings, Spark's and py4j's output, anything written to
stderr, by this process or the JVM it starts) goes to ``DATA_DIR/logs/demo.log``.
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

from fraudlens.log import JsonFormatter


def demo_log_path(data_dir: Path) -> Path:
    """The demo's log file: ``DATA_DIR/logs/demo.log``."""
    return data_dir / "logs" / "demo.log"


@contextlib.contextmanager
def logs_to_file(path: Path, level: str = "INFO") -> Iterator[Path]:
    """Send logging, warnings and stderr (file descriptor 2, child processes too) to ``path``.

    Everything is put back as it was on exit.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    root = logging.getLogger()
    saved_handlers, saved_level = root.handlers[:], root.level
    handler = logging.FileHandler(path, encoding="utf-8")
    handler.setFormatter(JsonFormatter())
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    logging.captureWarnings(True)
    sys.stderr.flush()
    saved_fd = os.dup(2)
    log_file = open(path, "a", encoding="utf-8")  # noqa: SIM115 - closed below
    os.dup2(log_file.fileno(), 2)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("default")  # each warning once, into the log
            yield path
    finally:
        sys.stderr.flush()
        os.dup2(saved_fd, 2)
        os.close(saved_fd)
        log_file.close()
        logging.captureWarnings(False)
        handler.close()
        root.handlers[:] = saved_handlers
        root.setLevel(saved_level)
