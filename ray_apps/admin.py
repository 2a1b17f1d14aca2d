"""Analyst and admin endpoints: decisions, model promotion, live rules, erasure, audit.

Every route is guarded by ``require(...)`` with the permission
``ENDPOINT_PERMISSIONS`` names, and fails closed: with no authenticator
configured they answer 503, never open. Every change is written to the audit
log with the caller (``Principal.actor``). Without an ``AdminContext`` the
routes exist (same OpenAPI spec everywhere) and answer 503. The rules
routes are in ``rules_api``; ``AdminContext`` in ``admin_context``.
"""

from __future__ import annotations

import logging
from functools import partial
from typing import TYPE_CHECKING, Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response

from fraudlens.errors import (
    AuditError,
    DataError,
    FraudLensError,
    ModelNotFoundError,
    RecordsError,
)
from fraudlens.schema import ID_PATTERN, TOKEN_PATTERN
from fraudlens.security.api import require
from fraudlens.security.audit import Action, AuditRecord
from fraudlens.security.auth import Principal
from fraudlens.security.privacy import ErasureReport
from fraudlens.security.roles import Permission
from ray_apps import decisions
from ray_apps.admin_context import (
    ERRORS,
    AdminContext,
    audit_failed,
    json_response,
    run_change,
    unavailable,
)
from ray_apps.errors import error_response
from ray_apps.rules_api import rules_router
from ray_apps.schemas import (
    AuditVerifyResponse,
    Decision,
    ErasureRequest,
    ErasureResponse,
    IsoTime,
    PromoteRequest,
    PromoteResponse,
)

if TYPE_CHECKING:
    from ray_apps.api import ApiContext

logger = logging.getLogger(__name__)

__all__ = ["AdminContext", "admin_router"]


def admin_router(ctx: ApiContext) -> APIRouter:
    """The routes, bound to ``ctx`` (``ctx.admin`` may be None: 503)."""
    admin = ctx.admin
    router = APIRouter(responses=ERRORS)

    def caller(need: Permission) -> Any:
        # Always authenticated, even when the scoring routes are open (demo);
        # ``require`` puts the caller in ``request.state.principal``.
        return Depends(require(need, ctx.authenticator))

    @router.get(
        "/v1/decisions",
        response_model=decisions.DecisionsResponse,
        tags=["decisions"],
        dependencies=[caller(Permission.READ_DECISIONS)],
    )
    async def list_decisions(
        card_token: Annotated[str | None, Query(pattern=TOKEN_PATTERN)] = None,
        transaction_id: Annotated[str | None, Query(pattern=ID_PATTERN)] = None,
        decision: Decision | None = None,
        since: Annotated[
            IsoTime | None, Query(description="event time from (UTC if naive)")
        ] = None,
        until: Annotated[
            IsoTime | None, Query(description="event time before (UTC if naive)")
        ] = None,
        limit: Annotated[int, Query(ge=1, le=decisions.MAX_LIMIT)] = 100,
    ) -> Response:
        """Recent decisions from the decision log, newest first (card tokens, never PANs)."""
        if admin is None:
            return unavailable()
        q = decisions.query(card_token, transaction_id, decision, since, until, limit)
        if q.since and q.until and q.since >= q.until:
            return error_response(422, "invalid_request", "must be after since", "query.until")
        if admin.records is not None:
            try:
                rows = await run_in_threadpool(decisions.read_records, admin.records, q)
            except RecordsError as exc:
                logger.error("reading decisions failed: %s", exc)
                return error_response(503, "records_unavailable", "decisions cannot be read")
        else:
            rows = await run_in_threadpool(decisions.read_decisions, admin.decisions_dir, q)
        return json_response(
            decisions.DecisionsResponse(decisions=rows, count=len(rows), limit=limit)
        )

    @router.post(
        "/v1/model/promote",
        response_model=PromoteResponse,
        tags=["model"],
        dependencies=[caller(Permission.PROMOTE_MODEL)],
    )
    async def promote(body: PromoteRequest, request: Request) -> Response:
        """Make a version champion through the promotion gate (or override it, audited)."""

        def run(admin: AdminContext, who: Principal) -> Any:
            return admin.promote(body.version, body.override_reason, who.actor)

        def record(gate: Any) -> AuditRecord:
            return AuditRecord(
                Action.MODEL_PROMOTED if gate.promoted else Action.PROMOTION_REFUSED,
                f"model version {gate.version}",
                f"promotion of version {gate.version} ran",
                {
                    "previous_champion": gate.champion,
                    "reasons": list(gate.reasons),
                    "override_reason": body.override_reason if _overridden(body, gate) else None,
                },
            )

        async def reply(admin: AdminContext, gate: Any, audit_hash: str) -> Response:
            return json_response(
                PromoteResponse(
                    version=gate.version,
                    previous_champion=gate.champion,
                    promoted=gate.promoted,
                    overridden=_overridden(body, gate),
                    reasons=list(gate.reasons),
                    audit_hash=audit_hash,
                )
            )

        return await run_change(
            admin, request, run, partial(_promote_failed, body.version), reply, record
        )

    @router.post(
        "/v1/privacy/erase",
        response_model=ErasureResponse,
        tags=["privacy"],
        dependencies=[caller(Permission.ERASE_DATA)],
    )
    async def erase(body: ErasureRequest, request: Request) -> Response:
        """Erase one customer's data from every store (GDPR Art. 17); audited."""

        def run(admin: AdminContext, who: Principal) -> ErasureReport:
            return admin.erase(body.customer_id, who.actor)

        async def reply(admin: AdminContext, report: ErasureReport, _: str) -> Response:
            return json_response(
                ErasureResponse(
                    subject_ref=report.subject_ref,
                    card_tokens=report.card_tokens,
                    transactions=report.transactions,
                    stores=[vars(s) for s in report.stores],
                    rows_removed=report.rows_removed,
                    complete=report.complete,
                    pending=report.pending,
                    failed=report.failed,
                    deferred=report.deferred,
                    audit_hash=report.audit_hash,
                )
            )

        return await run_change(admin, request, run, _erase_failed, reply)

    @router.get(
        "/v1/audit/verify",
        response_model=AuditVerifyResponse,
        tags=["audit"],
        dependencies=[caller(Permission.READ_AUDIT)],
    )
    async def audit_verify(
        expected_head: Annotated[str | None, Query(pattern=r"^[0-9a-f]{64}$")] = None,
    ) -> Response:
        """Check the audit log's hash chain (optionally against a head kept elsewhere)."""
        if admin is None:
            return unavailable()
        result = await run_in_threadpool(admin.audit.verify, expected_head)
        return json_response(
            AuditVerifyResponse(
                ok=result.ok, entries=result.entries, head=result.head, problems=result.problems
            )
        )

    router.include_router(rules_router(ctx, caller))
    return router


def _overridden(body: PromoteRequest, gate: Any) -> bool:
    return bool(body.override_reason) and any(r.startswith("gate overridden") for r in gate.reasons)


def _promote_failed(version: str, exc: Exception) -> Response | None:
    if isinstance(exc, ModelNotFoundError):
        return error_response(404, "not_found", "no such model version", "version")
    if isinstance(exc, DataError):
        return error_response(409, "gate_unavailable", str(exc), "override_reason")
    if isinstance(exc, FraudLensError):
        logger.error("promotion of version %s failed: %s", version, exc)
        return error_response(503, "registry_unavailable", "the model registry failed")
    return None


def _erase_failed(exc: Exception) -> Response | None:
    if isinstance(exc, AuditError):
        return audit_failed(exc, "the erasure ran")
    if isinstance(exc, (FraudLensError, OSError)):  # e.g. an unreadable file during discovery
        logger.error("erasure failed: %s: %s", type(exc).__name__, exc)
        return error_response(503, "erasure_failed", "erasure stopped early; run it again")
    return None
