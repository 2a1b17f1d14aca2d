"""The demo's chatter goes to DATA_DIR/logs/demo.log, the terminal keeps the results."""

from __future__ import annotations

import json
import logging
import subprocess
import sys
import warnings
from pathlib import Path

import pytest
from rich.console import Console

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
    assert root.handlers == before
    out, err = capfd.readouterr()
    assert "scored" not in out + err and "jvm says hi" not in out + err
    text = path.read_text()
    records = [json.loads(line) for line in text.splitlines() if line.startswith("{")]
    assert any(r["message"] == "scored 3 transactions" for r in records)
    assert any("an old API" in r["message"] and r["logger"] == "py.warnings" for r in records)
    assert "jvm says hi" in text


def test_child_stdout_goes_to_the_file_and_the_console_keeps_the_terminal(
    tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    path = demo_log_path(tmp_path)
    console = Console()  # like the CLI's: follows sys.stdout
    child = "import os; os.write(1, b'raylet on fd 1\\n'); os.write(2, b'gcs on fd 2\\n')"
    with logs_to_file(path, console=console):
        console.print("step 5: 300 answers, 0 degraded")
        # Ray's raylet and GCS print on the stdout and stderr they inherit.
        subprocess.run([sys.executable, "-c", child], check=True)
        console.print("step 5 done")
    console.print("after the steps")
    out, err = capfd.readouterr()
    assert "step 5: 300 answers, 0 degraded" in out and "step 5 done" in out
    assert "after the steps" in out
    assert "raylet" not in out + err and "gcs on fd 2" not in out + err
    text = path.read_text()
    assert "raylet on fd 1" in text and "gcs on fd 2" in text
    assert "step 5" not in text


SPINNER_RUN = """
import sys
from pathlib import Path
from rich.console import Console
from fraudlens.demo.logs import logs_to_file, quiet_status

console = Console(force_terminal=True)  # rich redirects prints only on a terminal
with logs_to_file(Path(sys.argv[1]), console=console):
    with quiet_status(console, "playing the simulated days..."):
        print("print from a library")
        sys.stderr.write("tqdm: 100%|#####|\\n")
    console.print("the timeline")
"""


def test_python_prints_stay_off_the_terminal_even_under_the_spinner(tmp_path: Path) -> None:
    # A fresh interpreter, so sys.stdout and sys.stderr write to fds 1 and 2
    # (pytest's capture would swap them) and its terminal is this pipe.
    path = demo_log_path(tmp_path)
    done = subprocess.run(
        [sys.executable, "-c", SPINNER_RUN, str(path)], capture_output=True, text=True, check=True
    )
    terminal = done.stdout + done.stderr
    assert "the timeline" in terminal
    assert "library" not in terminal and "tqdm" not in terminal
    text = path.read_text()
    assert "print from a library" in text and "tqdm: 100%" in text


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
