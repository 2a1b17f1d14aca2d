"""The scoring API with admin routes over a fake scoring service, for the records tests."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
from asgi_client import AsgiClient
from fake_api import fake_api_context

from fraudlens.security.auth import Authenticator
from fraudlens.settings import Settings
from ray_apps.admin import AdminContext
from ray_apps.api import create_api


@contextmanager
def admin_app(admin: AdminContext, kid: str, digest: str, data_dir: Path) -> Iterator[httpx.Client]:
    """A client of the app, the API key ``kid`` (SHA-256 ``digest``) an admin's."""
    settings = Settings(
        data_dir=data_dir, security={"api_keys": {kid: {"role": "admin", "sha256": digest}}}
    )
    ctx = fake_api_context(authenticator=Authenticator.from_settings(settings), admin=admin)
    http = AsgiClient(create_api(ctx))
    try:
        yield http
    finally:
        http.close()
        ctx.service.close()
