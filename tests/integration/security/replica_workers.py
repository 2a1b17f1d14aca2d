"""Process bodies of the replica tests (spawned: importable by module name)."""

from __future__ import annotations

from typing import Any


def serve_scoring_api(settings: Any, port: int) -> None:
    """Serve the real scoring API (fake model) with the authenticator ``settings`` build,
    rate limiter included, as one replica does."""
    import uvicorn
    from fake_api import fake_api_context, fake_service

    from ray_apps.api import authenticator_for, create_api

    service = fake_service()
    service.warm_up()
    ctx = fake_api_context(service, authenticator=authenticator_for(settings))
    uvicorn.run(create_api(ctx), host="127.0.0.1", port=port, log_level="warning")
