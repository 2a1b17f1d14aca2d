"""``GET/PUT /v1/rules``: the live decision rules, versioned in a ``RuleStore``.

A PUT stores a new version, audits it and applies it in this replica at once;
every other replica's ``RuleWatcher`` applies it on its next poll (started by
this router's lifespan, which uvicorn and Ray Serve both run).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any

from fastapi import APIRouter, FastAPI, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response

from fraudlens.errors import AuditError
from fraudlens.scoring.config import Rules
from fraudlens.scoring.rule_store import RuleWatcher, StoredRules
from fraudlens.security.auth import Principal
from fraudlens.security.roles import Permission
from ray_apps.admin_context import (
    ERRORS,
    AdminContext,
    audit_failed,
    json_response,
    run_change,
    store_failed,
    unavailable,
)
from ray_apps.schemas import RulesResponse

if TYPE_CHECKING:
    from ray_apps.api import ApiContext


def rules_router(ctx: ApiContext, caller: Callable[[Permission], Any]) -> APIRouter:
    """The rules routes; ``caller(permission)`` is the auth dependency."""
    admin = ctx.admin
    if admin is not None:
        admin.watcher = RuleWatcher(admin.rules, ctx.service.set_rules)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if admin is None or admin.watcher is None:
            yield
            return
        admin.watcher.start(admin.rules_poll_s)
        try:
            yield
        finally:
            admin.watcher.stop()

    router = APIRouter(lifespan=lifespan, responses=ERRORS)

    @router.get(
        "/v1/rules",
        response_model=RulesResponse,
        tags=["rules"],
        dependencies=[caller(Permission.READ_RULES)],
    )
    async def get_rules() -> Response:
        """The live rules and their version."""
        if admin is None:
            return unavailable()
        try:
            stored = await run_in_threadpool(admin.rules.get)
        except Exception as exc:  # damaged file, Redis down: any backend's error
            return store_failed(exc)
        in_force = ctx.service.active.rules if ctx.service.ready else None
        return json_response(
            RulesResponse(
                version=stored.version if stored else 0,
                applied_version=admin.watcher.version if admin.watcher else 0,
                updated_at=stored.updated_at if stored else None,
                updated_by=stored.updated_by if stored else None,
                rules=in_force or (stored.rules if stored else Rules()),
            )
        )

    @router.put(
        "/v1/rules",
        response_model=RulesResponse,
        tags=["rules"],
        dependencies=[caller(Permission.MANAGE_RULES)],
    )
    async def put_rules(body: Rules, request: Request) -> Response:
        """Replace the live rules; every replica applies them on its next poll."""

        def put(admin: AdminContext, who: Principal) -> tuple[StoredRules, str]:
            # The workspace's rules page changes rules through this same call.
            return admin.rule_admin().change(body, who.actor)

        def failed(exc: Exception) -> Response:
            if isinstance(exc, AuditError):  # stored, but not audited
                cause = exc.__cause__
                return audit_failed(cause if isinstance(cause, Exception) else exc, str(exc))
            return store_failed(exc)  # any backend's error: damaged file, Redis down

        async def reply(admin: AdminContext, done: tuple[StoredRules, str], _: str) -> Response:
            stored, audit_hash = done
            return json_response(
                RulesResponse(
                    version=stored.version,
                    applied_version=admin.watcher.version if admin.watcher else 0,
                    updated_at=stored.updated_at,
                    updated_by=stored.updated_by,
                    rules=stored.rules,
                    audit_hash=audit_hash,
                )
            )

        return await run_change(admin, request, put, failed, reply)

    return router
