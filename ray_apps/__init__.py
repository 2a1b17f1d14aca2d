"""Ray Serve applications: the FraudLens scoring API.

``ray_apps.app:build_app`` is the Serve import path; ``ray_apps.run.serve_local``
starts it on a local Ray. Names are imported lazily so that ``ray_apps.api``
(the plain FastAPI app) does not import Ray.
"""

from __future__ import annotations

from typing import Any

__all__ = ["AppArgs", "build_app", "create_api", "serve_local"]

_WHERE = {
    "AppArgs": "ray_apps.app",
    "build_app": "ray_apps.app",
    "create_api": "ray_apps.api",
    "serve_local": "ray_apps.run",
}


def __getattr__(name: str) -> Any:
    if name in _WHERE:
        import importlib

        return getattr(importlib.import_module(_WHERE[name]), name)
    raise AttributeError(f"module 'ray_apps' has no attribute {name!r}")
