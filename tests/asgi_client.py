"""Sync HTTP calls into an ASGI app inside the test process (httpx transport, no network)."""

from __future__ import annotations

import asyncio
from types import TracebackType
from typing import Any, Self

import httpx
from fastapi import FastAPI


class AsgiClient:
    """Requests to ``app`` through one event loop kept for the client's life.

    starlette's TestClient warns on recent httpx, hence this small stand-in.
    """

    def __init__(self, app: FastAPI, base_url: str = "http://api") -> None:
        self._loop = asyncio.new_event_loop()
        self._http = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=base_url)

    def request(self, method: str, url: str, **kw: Any) -> httpx.Response:
        return self._loop.run_until_complete(self._http.request(method, url, **kw))

    def get(self, url: str, **kw: Any) -> httpx.Response:
        return self.request("GET", url, **kw)

    def post(self, url: str, **kw: Any) -> httpx.Response:
        return self.request("POST", url, **kw)

    def close(self) -> None:
        self._loop.run_until_complete(self._http.aclose())
        self._loop.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
