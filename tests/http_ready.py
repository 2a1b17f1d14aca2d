"""One readiness poll for the tests that start an HTTP server (Serve app, API process)."""

from __future__ import annotations

import time
from collections.abc import Callable

import httpx
import pytest


def wait_ready(url: str, deadline: float, alive: Callable[[], bool] = lambda: True) -> None:
    """Poll ``{url}/readyz`` until it answers 200; fail the test after ``deadline`` seconds.

    ``alive`` says whether the server can still come up (e.g. its process is
    running): the wait stops as soon as it returns False.
    """
    end = time.monotonic() + deadline
    while time.monotonic() < end and alive():
        try:
            if httpx.get(f"{url}/readyz", timeout=2.0).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    pytest.fail(f"{url} did not become ready in {deadline:.0f} s (server alive: {alive()})")
