"""What every workspace page handler uses: render, refuse, and check who is asking."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from fastapi import Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from jinja2 import Environment
from sqlalchemy import Engine

from fraudlens.errors import ValidationError
from fraudlens.security.pan_scan import redact
from fraudlens.security.roles import WORKSPACE_PERMISSION, Permission
from fraudlens.workspace.sessions import Session, load_session
from fraudlens.workspace.web.security import SESSION_COOKIE, read_form

T = TypeVar("T")


class PageKit:
    """Page helpers over the templates ``env``, under ``prefix``; ``engine()`` opens the
    records database, where sessions live."""

    def __init__(self, env: Environment, prefix: str, engine: Callable[[], Engine]) -> None:
        self.env = env
        self.prefix = prefix
        self._engine = engine

    def page(
        self, name: str, status: int = 200, session: Session | None = None, **data: Any
    ) -> Response:
        html = self.env.get_template(name).render(session=session, prefix=self.prefix, **data)
        return HTMLResponse(html, status_code=status)

    def refused(self, status: int, reason: str, session: Session | None = None) -> Response:
        # Reasons may echo what was sent (a path, a field): never a card number.
        return self.page("message.html", status, session, title="Refused", message=redact(reason))

    def go(self, path: str) -> Response:
        """See ``path`` (under the prefix) next."""
        return RedirectResponse(f"{self.prefix}{path}", status_code=303)

    async def signed_in(self, request: Request) -> Session | None:
        """The request's session, if it is live and may use the workspace."""
        cookie = request.cookies.get(SESSION_COOKIE)
        found = await run_in_threadpool(lambda: load_session(self._engine(), cookie))
        return found if found is not None and found.allows(WORKSPACE_PERMISSION) else None

    async def viewer(self, request: Request) -> Session | Response:
        """The session of a page view, or the way to the sign-in page."""
        session = await self.signed_in(request)
        return self.go("/sign-in") if session is None else session

    async def checked_form(self, request: Request) -> tuple[Session, dict[str, str]] | Response:
        """A posted form with its session, once the session and CSRF token are checked."""
        session = await self.signed_in(request)
        if session is None:
            return self.refused(401, "Sign in first (your session ended or is not valid).")
        try:
            form = await read_form(request)
        except ValidationError as exc:
            return self.refused(400, f"{exc.field}: {exc.reason}", session)
        if not session.csrf_ok(form.get("csrf")):
            return self.refused(
                403, "The form's CSRF token is missing or wrong: reload the page.", session
            )
        return session, form

    def granted(
        self,
        session: Session,
        permission: Permission,
        who: str,
        part: Callable[[], T | None],
        off: str,
    ) -> T | Response:
        """``part()`` for a session with ``permission``: 403 ``who`` without it, 503 ``off``
        where the part is not there."""
        if not session.allows(permission):
            return self.refused(403, who, session)
        found = part()
        return self.refused(503, off, session) if found is None else found
