"""The workspace's rules page: admins list, create, edit and disable the live rules.

Changes go through ``RuleAdmin.change``, the call ``PUT /v1/rules`` makes: a new
version in the live rule store, the same ``rule.changed`` audit entry, and this
replica applies it at once. Analysts get 403; scorer keys cannot sign in.
Each form carries the version it was made from, so an admin never overwrites
a change they did not see (409: reload).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TYPE_CHECKING

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response

from fraudlens.errors import AuditError, ValidationError
from fraudlens.scoring.config import Rules
from fraudlens.security.pan_scan import redact
from fraudlens.security.roles import Permission
from fraudlens.workspace.rules import KINDS, LISTS, with_limit, with_list_entry, without_limit
from fraudlens.workspace.sessions import Session
from fraudlens.workspace.web.kit import PageKit

if TYPE_CHECKING:
    from fraudlens.scoring.rule_admin import RuleAdmin
    from fraudlens.scoring.rule_store import StoredRules

logger = logging.getLogger(__name__)

EDITS: dict[str, Callable[[Rules, dict[str, str]], Rules]] = {
    "save_limit": with_limit,
    "disable_limit": lambda rules, form: without_limit(rules, form.get("name", "")),
    "add_entry": lambda rules, form: with_list_entry(rules, form, add=True),
    "remove_entry": lambda rules, form: with_list_entry(rules, form, add=False),
}


class _Stale(Exception):
    """The form was made from an older version of the rules."""


def add_rules_routes(
    router: APIRouter, kit: PageKit, rule_admin: Callable[[], RuleAdmin | None]
) -> None:
    """Add ``GET/POST /rules`` to ``router``; ``rule_admin()`` is None where rules are
    not managed (no admin context): the page then answers 503."""

    def admins_only(session: Session) -> RuleAdmin | Response:
        return kit.granted(
            session,
            Permission.MANAGE_RULES,
            "Only admins manage rules.",
            rule_admin,
            "Rules are not managed by this server.",
        )

    def show(
        session: Session,
        stored: StoredRules | None,
        status: int = 200,
        error: ValidationError | None = None,
        form: dict[str, str] | None = None,
        edit: str | None = None,
    ) -> Response:
        rules = stored.rules if stored else Rules()
        editing = next((x for x in rules.limits if x.name == edit), None)
        return kit.page(
            "rules.html",
            status,
            session,
            stored=stored,
            rules=rules,
            lists=LISTS,
            kinds=KINDS,
            error=error,
            form=form or {},
            editing=editing,
        )

    @router.get("/rules")
    async def rules_page(request: Request) -> Response:
        session = await kit.viewer(request)
        if isinstance(session, Response):
            return session
        admin = admins_only(session)
        if isinstance(admin, Response):
            return admin
        try:
            stored = await run_in_threadpool(admin.current)
        except Exception as exc:  # damaged file, Redis down: any backend's error
            return _store_failed(kit, session, exc)
        return show(session, stored, edit=request.query_params.get("edit"))

    @router.post("/rules")
    async def change_rules(request: Request) -> Response:
        checked = await kit.checked_form(request)
        if isinstance(checked, Response):
            return checked
        session, form = checked
        admin = admins_only(session)
        if isinstance(admin, Response):
            return admin
        edit = EDITS.get(form.get("op", ""))
        if edit is None:
            return kit.refused(422, "op: not a rules change", session)

        def run() -> tuple[StoredRules | None, ValidationError | None]:
            stored = admin.current()
            if str(stored.version if stored else 0) != form.get("version"):
                raise _Stale
            try:
                rules = edit(stored.rules if stored else Rules(), form)
            except ValidationError as exc:
                return stored, exc
            admin.change(rules, session.actor)
            return None, None

        try:
            stored, error = await run_in_threadpool(run)
        except _Stale:
            return kit.refused(
                409, "The rules changed since this page was loaded: reload.", session
            )
        except AuditError as exc:
            logger.critical("audit log append failed after %s: %s", exc, exc.__cause__)
            return kit.refused(503, f"{exc}, but the audit log cannot be written.", session)
        except Exception as exc:  # the store's own errors: nothing was changed
            return _store_failed(kit, session, exc)
        if error is not None:  # the form comes back filled in, never with a card number
            refill = {name: redact(value) for name, value in form.items()}
            return show(session, stored, 422, error, refill, form.get("name"))
        return kit.go("/rules")


def _store_failed(kit: PageKit, session: Session, exc: Exception) -> Response:
    logger.error("rule store failed: %s: %s", type(exc).__name__, exc)
    return kit.refused(503, "The rule store cannot be read or written.", session)
