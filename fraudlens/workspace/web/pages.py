"""The workspace's pages and forms (FastAPI router, Jinja2 templates, no script).

Sign-in takes an API key or a bearer token (the API's own credentials) and
opens a server-side session (``fraudlens.workspace.sessions``); every other
page needs a session whose roles grant ``work_cases`` (analyst, admin), and
every form post needs the session's CSRF token. Here: sign-in and out,
the stylesheet and metrics; the analysts' pages are in ``case_pages``, the
admins' in ``rules_pages`` (``manage_rules``) and ``users_pages``
(``manage_users``).
"""

from __future__ import annotations

import logging
from pathlib import Path
from urllib.parse import quote

from fastapi import APIRouter, FastAPI, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import (
    FileResponse,
    JSONResponse,
    Response,
)
from jinja2 import Environment, FileSystemLoader, select_autoescape
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from sqlalchemy.exc import SQLAlchemyError

from fraudlens.errors import AuthError, RecordsError, ValidationError
from fraudlens.security.roles import WORKSPACE_PERMISSION
from fraudlens.workspace.metrics import WorkspaceCollector
from fraudlens.workspace.sessions import end_session, start_session
from fraudlens.workspace.web.case_pages import add_case_routes
from fraudlens.workspace.web.context import WorkspaceContext
from fraudlens.workspace.web.kit import PageKit
from fraudlens.workspace.web.rules_pages import add_rules_routes
from fraudlens.workspace.web.security import (
    LOGIN_COOKIE,
    SESSION_COOKIE,
    WorkspaceHeaders,
    new_token,
    read_form,
    same_token,
    set_cookie,
)
from fraudlens.workspace.web.users_pages import add_users_routes

logger = logging.getLogger(__name__)
HERE = Path(__file__).parent
PREFIX = "/workspace"


def _templates() -> Environment:
    env = Environment(
        loader=FileSystemLoader(HERE / "templates"),
        autoescape=select_autoescape(default=True, default_for_string=True),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["money"] = lambda v: "" if v is None else f"{float(v):,.2f}"
    env.filters["score"] = lambda v: "-" if v is None else f"{float(v):.3f}"
    env.filters["when"] = lambda v: "" if v is None else v.strftime("%Y-%m-%d %H:%M:%S")
    env.filters["q"] = lambda v: quote(str(v), safe="")
    return env


def workspace_router(ctx: WorkspaceContext) -> APIRouter:
    """The workspace's routes, to include in the scoring API's app."""
    router = APIRouter(prefix=PREFIX, include_in_schema=False)
    env = _templates()
    registry = CollectorRegistry(auto_describe=False)
    registry.register(WorkspaceCollector(lambda: ctx.engine, ctx.settings.sla_minutes))
    max_age = ctx.settings.session_minutes * 60
    secure = ctx.settings.secure_cookie

    kit = PageKit(env, PREFIX, lambda: ctx.engine)
    page, refused = kit.page, kit.refused

    @router.get("/static/workspace.css")
    async def stylesheet() -> Response:
        return FileResponse(HERE / "static" / "workspace.css", media_type="text/css")

    @router.get("/metrics")
    async def metrics() -> Response:
        data = await run_in_threadpool(generate_latest, registry)
        return Response(data, media_type=CONTENT_TYPE_LATEST)

    @router.get("/")
    async def home(request: Request) -> Response:
        return kit.go("/queue" if await kit.signed_in(request) else "/sign-in")

    @router.get("/sign-in")
    async def sign_in_form() -> Response:
        token = new_token()
        response = page("sign_in.html", csrf=token, error=None)
        set_cookie(response, LOGIN_COOKIE, token, secure, 600)
        return response

    @router.post("/sign-in")
    async def sign_in(request: Request) -> Response:
        try:
            form = await read_form(request)
        except ValidationError as exc:
            return refused(400, f"{exc.field}: {exc.reason}")
        if not same_token(form.get("csrf"), request.cookies.get(LOGIN_COOKIE)):
            return refused(403, "The form's CSRF token is missing or wrong: reload the page.")
        if ctx.authenticator is None:
            return refused(503, "No credentials are configured: nobody can sign in.")
        key, token = form.get("api_key", "").strip(), form.get("token", "").strip()
        try:
            principal = ctx.authenticator.authenticate(api_key=key or None, bearer=token or None)
        except AuthError:
            retry = new_token()
            response = page("sign_in.html", 401, csrf=retry, error="Invalid credentials.")
            set_cookie(response, LOGIN_COOKIE, retry, secure, 600)
            return response
        if not principal.allows(WORKSPACE_PERMISSION):
            return refused(403, "This credential may not use the workspace (analysts and admins).")
        minutes = ctx.settings.session_minutes
        session_id = await run_in_threadpool(lambda: start_session(ctx.engine, principal, minutes))
        response = kit.go("/queue")
        set_cookie(response, SESSION_COOKIE, session_id, secure, max_age)
        response.delete_cookie(LOGIN_COOKIE, path=PREFIX)
        return response

    @router.post("/sign-out")
    async def sign_out(request: Request) -> Response:
        checked = await kit.checked_form(request)
        if isinstance(checked, Response):
            return checked
        cookie = request.cookies[SESSION_COOKIE]
        await run_in_threadpool(lambda: end_session(ctx.engine, cookie))
        response = kit.go("/sign-in")
        response.delete_cookie(SESSION_COOKIE, path=PREFIX)
        return response

    add_case_routes(router, kit, ctx)
    add_rules_routes(router, kit, lambda: ctx.rules)
    add_users_routes(router, kit, lambda: ctx.keys, lambda: ctx.desk.audit)

    return router


def mount_workspace(app: FastAPI, ctx: WorkspaceContext) -> None:
    """Serve the workspace from ``app``: its routes, headers, and a 503 page when the
    records database cannot be reached (the rest of the app is not affected)."""
    app.include_router(workspace_router(ctx))
    app.add_middleware(WorkspaceHeaders)
    kit = PageKit(_templates(), PREFIX, lambda: ctx.engine)

    async def unavailable(request: Request, exc: Exception) -> Response:
        logger.warning("the records database is unavailable: %s", exc)
        if not request.url.path.startswith(PREFIX):
            return JSONResponse(
                {"error": "records_unavailable", "detail": "the records database is unavailable"},
                status_code=503,
            )
        message = "The case database is unavailable; try again shortly."
        return kit.page("message.html", 503, title="Unavailable", message=message)

    for kind in (RecordsError, SQLAlchemyError):
        app.add_exception_handler(kind, unavailable)
