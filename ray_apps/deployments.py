"""Ray Serve deployments: the scoring ingress (FastAPI) and the shadow challenger.

``ScoringIngress`` runs the champion in-process with the API (no extra hop on
the request path). Its ``user_config`` is a ``ScoringConfig``: thresholds,
rules and the model alias/version, applied by ``reconfigure()`` without a
restart. A version that fails to load or probe is refused and the previous one
keeps serving. ``ShadowDeployment`` scores the challenger on batches the
ingress sends fire-and-forget; its answers are logged, never returned.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pandas as pd
import pydantic
from fastapi import FastAPI
from ray import serve
from ray.serve.handle import DeploymentHandle

from fraudlens.errors import FraudLensError
from fraudlens.scoring.config import ScoringConfig
from fraudlens.scoring.factory import (
    build_service,
    freeze_heap,
    shadow_scorer,
    single_threaded_numerics,
)
from fraudlens.scoring.scorer import Scored
from fraudlens.scoring.shadow import ShadowBatch, shadow_batch
from fraudlens.security.auth import Authenticator
from fraudlens.security.tokenize import tokenizer_from_settings
from fraudlens.settings import Settings
from fraudlens.workspace.web import WorkspaceContext, workspace_context
from ray_apps.admin_context import AdminContext
from ray_apps.api import ApiContext, authenticator_for, create_api
from ray_apps.labels import KafkaLabelPublisher

logger = logging.getLogger(__name__)


class Every:
    """Calls ``fn`` every ``seconds`` on a daemon thread until ``stop()``."""

    def __init__(self, seconds: float, fn: Callable[[], object], name: str) -> None:
        self._stop = threading.Event()
        self._seconds = seconds
        self._fn = fn
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        if seconds > 0:
            self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(self._seconds):
            try:
                self._fn()
            except Exception:  # a failed check must not end the loop
                logger.exception("periodic task %s failed", self._thread.name)

    def stop(self) -> None:
        """Stop after the current call."""
        self._stop.set()


class RemoteShadow:
    """A ``ShadowSink`` that ships champion batches to the shadow deployment.

    Batches are merged and sent every ``interval_s`` so the request path only
    appends to a list; responses are not awaited (the shadow never delays or
    changes an answer), and the shadow deployment sheds load it cannot take.
    The send itself runs on the replica's event loop: in Serve's
    throughput-optimized mode a handle's router lives on that loop and cannot
    be called from another thread.
    """

    def __init__(
        self, handle: DeploymentHandle[Any], interval_s: float = 0.2, max_rows: int = 5000
    ):
        self.handle = handle
        self.max_rows = max_rows
        self.dropped = 0
        self._pending: list[ShadowBatch] = []
        self._rows = 0
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._timer = Every(interval_s, self.flush, "fraudlens-shadow-send")

    def submit(self, scored: Scored) -> None:
        """Queue a champion batch (dropped when too much is pending)."""
        if self._loop is None:
            with contextlib.suppress(RuntimeError):  # called outside a loop: send from the timer
                self._loop = asyncio.get_running_loop()
        with self._lock:
            if self._rows + len(scored.results) > self.max_rows:
                self.dropped += len(scored.results)
                return
            self._pending.append(shadow_batch(scored))
            self._rows += len(scored.results)

    def flush(self) -> None:
        """Send what is pending as one batch."""
        with self._lock:
            pending, self._pending, self._rows = self._pending, [], 0
        if not pending:
            return
        merged = ShadowBatch(
            txns=[t for b in pending for t in b.txns],
            frame=pd.concat([b.frame for b in pending], ignore_index=True),
            champion=[c for b in pending for c in b.champion],
        )
        loop = self._loop
        if loop is None or loop.is_closed():
            self._send(merged)
        else:
            loop.call_soon_threadsafe(self._send, merged)

    def _send(self, batch: ShadowBatch) -> None:
        try:
            self.handle.score.remote(batch)
        except Exception:  # the shadow must never break the replica
            logger.exception("sending %d rows to the shadow failed", len(batch.txns))

    def close(self) -> None:
        """Stop sending."""
        self._timer.stop()


@serve.deployment(
    name="scoring",
    max_ongoing_requests=256,
    ray_actor_options={"num_cpus": 0.25},
    health_check_period_s=10,
    graceful_shutdown_timeout_s=10,
)
@serve.ingress()
class ScoringIngress:
    """The scoring API replica: FastAPI routes over a ``ScoringService``.

    Args:
        settings: overrides applied over the replica's ``FRAUDLENS_*`` environment.
        shadow: handle of the shadow deployment (None: no shadow scoring).
    """

    def __init__(
        self, settings: dict[str, Any] | None = None, shadow: DeploymentHandle[Any] | None = None
    ) -> None:
        self.settings = Settings(**(settings or {}))
        single_threaded_numerics()
        sink = RemoteShadow(shadow) if shadow is not None else None
        self.service = build_service(self.settings, "api", shadow=sink)
        kafka = self.settings.kafka
        self.labels = KafkaLabelPublisher(kafka) if kafka.bootstrap_servers else None
        self.poller: Every | None = None
        # One worker: config changes apply in the order they arrive.
        self._loader = ThreadPoolExecutor(max_workers=1, thread_name_prefix="fraudlens-reload")

    def __serve_build_asgi_app__(self) -> FastAPI:
        authenticator = authenticator_for(self.settings)  # one for the API and the workspace
        ctx = ApiContext(
            service=self.service,
            tokenizer=tokenizer_from_settings(self.settings),
            validation=self.settings.validation,
            labels=self.labels,
            max_body_bytes=self.settings.serve.max_body_bytes,
            max_batch_size=self.settings.serve.max_batch_size,
            authenticator=authenticator,
            micro_batch_rows=self.settings.serve.micro_batch_rows,
            admin=AdminContext.from_settings(self.settings),
            workspace=self._workspace(authenticator),
        )
        return create_api(ctx)

    def _workspace(self, authenticator: Authenticator | None) -> WorkspaceContext | None:
        """The analyst workspace, when enabled and labels can be published."""
        if not self.settings.workspace.enabled or self.labels is None:
            return None
        return workspace_context(self.settings, authenticator, self.labels)

    async def reconfigure(self, user_config: dict[str, Any]) -> None:
        """Apply a new ``ScoringConfig``; refuse it (keep serving) if it is bad.

        At replica start the model loads before the replica becomes ready, and
        a failure fails the replica: it must not serve without a model. Later
        changes load in the background and swap in when ready: Serve holds
        requests back from a replica while ``reconfigure`` runs, so waiting for
        a model download here would stall traffic.
        """
        if not self.service.ready:
            await asyncio.to_thread(self._apply, user_config)
        else:
            self._loader.submit(self._apply, user_config)

    def _apply(self, user_config: dict[str, Any]) -> None:
        first = not self.service.ready
        try:
            config = ScoringConfig.model_validate(user_config or {})
            self.service.apply_config(config)
        except (FraudLensError, pydantic.ValidationError) as exc:
            if first:
                raise
            logger.error("user_config refused, still serving the previous model: %s", exc)
            return
        if first:
            # Ready means ready: the first request must not pay for a cold store.
            self.service.warm_up()
            freeze_heap()  # model and feature store are loaded: keep them out of GC passes
        if self.poller is None:
            poll_s = self.settings.serve.model_poll_s
            self.poller = Every(poll_s, self.service.refresh_alias, "fraudlens-model-poll")

    def check_health(self) -> None:
        """Unhealthy until a model is loaded and warmed up (see ``ScoringService.warm_up``)."""
        if not self.service.ready:
            raise RuntimeError("no model loaded")
        if not self.service.warmed:
            raise RuntimeError("not warmed up yet")

    def __del__(self) -> None:
        if getattr(self, "poller", None) is not None:
            self.poller.stop()  # type: ignore[union-attr]
        if hasattr(self, "_loader"):
            self._loader.shutdown(wait=False, cancel_futures=True)
        if hasattr(self, "service"):
            self.service.close()
        if getattr(self, "labels", None) is not None:
            self.labels.close()  # type: ignore[union-attr]


@serve.deployment(
    name="shadow",
    max_ongoing_requests=4,
    max_queued_requests=8,
    ray_actor_options={"num_cpus": 0.1},
)
class ShadowDeployment:
    """Scores the challenger on champion batches and logs the comparison.

    Args:
        settings: overrides applied over the replica's ``FRAUDLENS_*`` environment.
    """

    def __init__(self, settings: dict[str, Any] | None = None) -> None:
        self.settings = Settings(**(settings or {}))
        single_threaded_numerics()
        self.scorer = shadow_scorer(self.settings)
        self.scorer.load()
        self.poller = Every(
            self.settings.serve.model_poll_s, self._refresh, "fraudlens-shadow-poll"
        )

    def reconfigure(self, user_config: dict[str, Any]) -> None:
        """``{"challenger_alias": "..."}``: which alias to shadow."""
        alias = (user_config or {}).get("challenger_alias")
        if alias and alias != self.scorer.alias:
            self.scorer.alias = alias
            self.scorer.load()

    def _refresh(self) -> None:
        current = self.scorer.loader.alias_version(self.scorer.alias)
        loaded = self.scorer.model.version if self.scorer.model else None
        if current != loaded:
            self.scorer.load()

    def score(self, batch: ShadowBatch) -> int:
        """Score one batch with the challenger; returns the rows logged."""
        return self.scorer.score(batch)

    def summary(self) -> dict[str, Any]:
        """Agreement with the champion so far."""
        return self.scorer.summary()

    def flush(self) -> int:
        """Write the shadow log now (tests, demo)."""
        return self.scorer.log.flush() if self.scorer.log is not None else 0

    def __del__(self) -> None:
        if hasattr(self, "poller"):
            self.poller.stop()
        if hasattr(self, "scorer"):
            self.scorer.close()
