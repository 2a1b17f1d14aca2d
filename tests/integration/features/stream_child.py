"""Watching a stream feature job run as a child process (the kill tests)."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Callable


def wait_for(condition: Callable[[], bool], child: subprocess.Popen[bytes], what: str) -> None:
    """Wait until ``condition`` holds; fail naming ``what`` if the child exits or 120 s pass."""
    deadline = time.monotonic() + 120
    while not condition():
        assert child.poll() is None, f"the stream job exited ({what})"
        assert time.monotonic() < deadline, what
        time.sleep(0.02)
