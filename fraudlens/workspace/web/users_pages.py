"""The workspace's users page: admins create, list and revoke API keys stored in PostgreSQL.

A new key is shown once, on the page that answers its creation (``no-store``);
the table keeps only its SHA-256 (``fraudlens.records.api_keys``). The list shows
name, id, role, creator, created, last used and revoked, never a key. Creating
and revoking are audited (``api_key.created`` / ``api_key.revoked``); revoking
also ends the key's workspace sessions. Keys from settings are not listed here:
they change with the deployment's configuration.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response

from fraudlens.errors import ValidationError
from fraudlens.records.api_keys import ROLES, PgKeyStore
from fraudlens.security.audit import Action, AuditTrail
from fraudlens.security.pan_scan import redact
from fraudlens.security.roles import Permission
from fraudlens.workspace.sessions import Session
from fraudlens.workspace.web.kit import PageKit


def add_users_routes(
    router: APIRouter,
    kit: PageKit,
    key_store: Callable[[], PgKeyStore | None],
    audit_trail: Callable[[], AuditTrail],
) -> None:
    """Add ``GET/POST /users`` to ``router``: ``key_store()`` is the authenticator's
    (None: stored keys are off, the page answers 503), ``audit_trail()`` the chain."""

    def allowed(session: Session) -> PgKeyStore | Response:
        return kit.granted(
            session,
            Permission.MANAGE_USERS,
            "Only admins manage users.",
            key_store,
            "Stored API keys are off here (security.stored_api_keys).",
        )

    async def show(session: Session, store: PgKeyStore, status: int = 200, **data: Any) -> Response:
        keys = await run_in_threadpool(store.list)
        defaults: dict[str, Any] = {"error": None, "created": None, "form": {}}
        return kit.page("users.html", status, session, keys=keys, roles=ROLES, **defaults | data)

    @router.get("/users")
    async def users_page(request: Request) -> Response:
        session = await kit.viewer(request)
        if isinstance(session, Response):
            return session
        store = allowed(session)
        if isinstance(store, Response):
            return store
        return await show(session, store)

    @router.post("/users")
    async def change_users(request: Request) -> Response:
        checked = await kit.checked_form(request)
        if isinstance(checked, Response):
            return checked
        session, form = checked
        store = allowed(session)
        if isinstance(store, Response):
            return store
        audit = audit_trail()
        op = form.get("op", "")
        if op == "create":

            def create() -> tuple[str, str]:
                key_id, key = store.create(
                    form.get("name", ""), form.get("role", ""), session.actor
                )
                audit.append(
                    session.actor,
                    Action.API_KEY_CREATED,
                    target=f"api_key:{key_id}",
                    details={"name": form.get("name", "").strip(), "role": form.get("role")},
                )
                return key_id, key

            try:
                key_id, key = await run_in_threadpool(create)
            except ValidationError as exc:
                refill = {name: redact(value) for name, value in form.items()}
                return await show(session, store, 422, error=exc, form=refill)
            return await show(session, store, created={"key_id": key_id, "key": key})
        if op == "revoke":
            key_id = form.get("key_id", "")

            def revoke() -> bool:
                if not store.revoke(key_id, session.actor):
                    return False
                audit.append(session.actor, Action.API_KEY_REVOKED, target=f"api_key:{key_id}")
                return True

            if not await run_in_threadpool(revoke):
                return kit.refused(404, "No live key has that id.", session)
            return kit.go("/users")
        return kit.refused(422, "op: not a users change", session)
