"""The demo's chatter goes to DATA_DIR/logs/demo.log, the terminal keeps the results."""

from __future__ import annotations

import json
import logging
import subprocess
import sys
import warnings
from pathlib import Path

import pytest

from fraudlens.demo.logs import demo_log_path, logs_to_file
from fraudlens.log import CHATTY_LOGGERS, configure_logging


def test_logs_warnings_and_child_stderr_go_to_the_file(
    tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    path = demo_log_path(tmp_path)
    assert path == tmp_path / "logs" / "demo.log"
    root = logging.getLogger()
    before = root.handlers[:]
    with logs_to_file(path):
        logging.getLogger("fraudlens.demo.test").info("scored %d transactions", 3)
        warnings.warn("an old API", DeprecationWarning, stacklevel=1)
        # A child process (Spark's JVM) writes to the stderr it inherits.
        subprocess.run([sys.executable, "-c", "import sys; sys.stderr.write('jvm says hi\\n')"])
        print("step 1 done")
    assert root.handlers == before
    out, err = capfd.readouterr()
    assert "step 1 done" in out
    assert "scored" not in out + err and "jvm says hi" not in out + err
    text = path.read_text()
    records = [json.loads(line) for line in text.splitlines() if line.startswith("{")]
    assert any(r["message"] == "scored 3 transactions" for r in records)
    assert any("an old API" in r["message"] and r["logger"] == "py.warnings" for r in records)
    assert "jvm says hi" in text


def test_library_chatter_stays_off_the_terminal_but_its_warnings_show(
    capfd: pytest.CaptureFixture[str],
) -> None:
    root = logging.getLogger()
    saved = root.handlers[:], root.level
    levels = {name: logging.getLogger(name).level for name in CHATTY_LOGGERS}
    try:
        configure_logging("INFO")
        for name in CHATTY_LOGGERS:  # e.g. the embedded PostgreSQL's commands at exit
            logging.getLogger(name).info("chatter from %s", name)
            logging.getLogger(name).warning("trouble in %s", name)
        logging.getLogger("fraudlens.records").info("stored 3 decisions")
        err = capfd.readouterr().err
    finally:
        root.handlers[:], root.level = saved[0], saved[1]
        for name, level in levels.items():
            logging.getLogger(name).setLevel(level)
    assert "chatter" not in err
    assert all(f"trouble in {name}" in err for name in CHATTY_LOGGERS)
    assert "stored 3 decisions" in err
