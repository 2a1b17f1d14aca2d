"""What the admin routes need beyond the scoring context, and their shared helpers."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from fastapi import Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response

from fraudlens.errors import AuditError, ModelError
from fraudlens.scoring.rule_admin import RuleAdmin
from fraudlens.scoring.rule_store import RuleStore, RuleWatcher, rule_store_from_settings
from fraudlens.security.audit import AuditRecord, AuditTrail, audit_log_from_settings
from fraudlens.security.auth import Principal
from fraudlens.security.privacy import ErasureReport, erase_customer
from fraudlens.settings import Settings
from ray_apps.errors import error_response
from ray_apps.schemas import ErrorResponse

if TYPE_CHECKING:
    from sqlalchemy import Engine

logger = logging.getLogger(__name__)

T = TypeVar("T")
Promoter = Callable[[str, str | None, str], Any]
"""``(version, override_reason, actor) -> GateDecision`` (``training.promote``)."""
Eraser = Callable[[str, str], ErasureReport]
"""``(customer_id, actor) -> report``; audits the erasure itself."""

ERRORS: dict[int | str, dict[str, Any]] = {
    code: {"model": ErrorResponse} for code in (400, 401, 403, 404, 409, 422, 429, 503)
}


@dataclass
class AdminContext:
    """What the admin routes need beyond the scoring context.

    Attributes:
        rules: the live rule store.
        audit: the audit log changes are written to.
        decisions_dir: root of the decision log.
        promote: promotes a model version (default: the MLflow gate).
        erase: erases a customer (default: ``erase_customer``).
        rules_poll_s: how often the app polls the rule store (0: only after PUT).
        records: the records database ``GET /v1/decisions`` reads instead of
            ``decisions_dir`` (when scoring writes no files).
    """

    rules: RuleStore
    audit: AuditTrail
    decisions_dir: Path
    promote: Promoter
    erase: Eraser
    rules_poll_s: float = 5.0
    records: Engine | None = None
    watcher: RuleWatcher | None = field(default=None, init=False)

    def rule_admin(self) -> RuleAdmin:
        """Rule changes on this context's store and audit log, applied here by the watcher."""
        return RuleAdmin(self.rules, self.audit, self.watcher.poll if self.watcher else None)

    @classmethod
    def from_settings(cls, settings: Settings) -> AdminContext:
        """Wire the real stores: rule store, audit log, MLflow gate, erasure."""
        audit = audit_log_from_settings(settings)

        def promote(version: str, override: str | None, actor: str) -> Any:
            return _mlflow_promote(settings, version, override, actor)

        def erase(customer_id: str, actor: str) -> ErasureReport:
            return erase_customer(settings, customer_id, actor=actor, audit=audit)

        records = None
        if settings.resolved_decision_sink() == "kafka":  # no decision files: read PostgreSQL
            from fraudlens.records.engine import engine_from_settings

            records = engine_from_settings(settings, pool_size=1)
        return cls(
            rule_store_from_settings(settings),
            audit,
            settings.data_dir / "decisions",
            promote,
            erase,
            settings.serve.rules_poll_s,
            records,
        )


def _mlflow_promote(settings: Settings, version: str, override: str | None, actor: str) -> Any:
    from mlflow.exceptions import MlflowException

    from training.promote import promote

    try:
        return promote(settings, version, override=override, actor=actor)
    except MlflowException as exc:
        raise ModelError(f"model registry error: {exc}") from exc


def json_response(model: Any, status: int = 200) -> Response:
    return Response(model.model_dump_json(), status_code=status, media_type="application/json")


def audit(admin: AdminContext, caller: Principal, action: str, target: str, **details: Any) -> str:
    return admin.audit.append(caller.actor, action, target=target, details=details).hash


def audit_failed(exc: Exception, what: str) -> Response:
    logger.critical("audit log append failed after %s: %s", what, exc)
    return error_response(503, "audit_unavailable", f"{what}, but the audit log cannot be written")


def store_failed(exc: Exception) -> Response:
    logger.error("rule store failed: %s: %s", type(exc).__name__, exc)
    return error_response(503, "rule_store_unavailable", "the rule store cannot be read or written")


def unavailable() -> Response:
    return error_response(503, "admin_unavailable", "admin endpoints are not configured here")


async def run_change(
    admin: AdminContext | None,
    request: Request,
    change: Callable[[AdminContext, Principal], T],
    failed: Callable[[Exception], Response | None],
    reply: Callable[[AdminContext, T, str], Awaitable[Response]],
    record: Callable[[T], AuditRecord] | None = None,
) -> Response:
    """Run one mutating admin route: every change takes this path.

    Answers 503 without an ``AdminContext``. Otherwise ``change(admin, caller)``
    runs in a worker thread (the caller is the principal ``require`` put in
    ``request.state``); ``failed`` maps what it raises to a response (None:
    re-raised). Then ``record(result)`` is appended to the audit log (503
    ``audit_unavailable`` if it cannot be) and ``reply(admin, result,
    audit_hash)`` answers; ``audit_hash`` is "" without ``record`` (the change
    audits itself).
    """
    if admin is None:
        return unavailable()
    who: Principal = request.state.principal
    try:
        result = await run_in_threadpool(change, admin, who)
    except Exception as exc:
        response = failed(exc)
        if response is None:
            raise
        return response
    audit_hash = ""
    if record is not None:
        entry = record(result)
        try:
            audit_hash = audit(admin, who, entry.action, entry.target, **entry.details)
        except (AuditError, OSError) as exc:
            return audit_failed(exc, entry.done)
    return await reply(admin, result, audit_hash)
