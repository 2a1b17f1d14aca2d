"""A real app and a real browser for the workspace tests: the scoring API app under
uvicorn on a free port, headless Chromium driven by Playwright (Debian's
``chromium``, installed by ``make tools``), and a signed-in page.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import uvicorn

from fraudlens.kafka import free_port

CHROMIUM = "/usr/bin/chromium"


class ResponseRecorder:
    """ASGI wrapper keeping every response body, for the PAN guard."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.bodies: list[tuple[str, bytes]] = []

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        chunks: list[bytes] = []

        async def keep(message: Any) -> None:
            if message["type"] == "http.response.body":
                chunks.append(message.get("body", b""))
                if not message.get("more_body"):
                    self.bodies.append((str(scope.get("path")), b"".join(chunks)))
            await send(message)

        await self.app(scope, receive, keep)


@contextmanager
def served(app: Any) -> Iterator[str]:
    """Serve ``app`` with uvicorn in a thread; yields its base URL (``http://127.0.0.1:port``)."""
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the app did not start")
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(10)


@contextmanager
def chromium() -> Iterator[Any]:
    """Headless Chromium (a Playwright ``Browser``)."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(
            executable_path=CHROMIUM, args=["--headless", "--no-sandbox", "--disable-gpu"]
        )
        try:
            yield browser
        finally:
            browser.close()


def signed_in(browser: Any, workspace_url: str, api_key: str) -> Any:
    """A page in a fresh browser context, signed in to the workspace with ``api_key``."""
    page = browser.new_context().new_page()
    page.goto(f"{workspace_url}/sign-in")
    page.fill("input[name=api_key]", api_key)
    page.click("button[type=submit]")
    return page
