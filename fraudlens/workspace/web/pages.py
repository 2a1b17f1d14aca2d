"""The workspace's pages and forms (FastAPI router, Jinja2 templates, no script).

Sign-in takes an API key or a bearer token (the API's own credentials) and
opens a server-side session (``fraudlens.workspace.sessions``); every other
page needs a session whose roles grant ``work_cases`` (analyst, admin), and
every form post needs the session's CSRF token. The rules page
(``rules_pages``) needs ``manage_rules`` (admin) as well.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, FastAPI, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import (
    FileResponse,
    HTMLResponse,
    JSONResponse,
    RedirectResponse,
    Response,
)
from jinja2 import Environment, FileSystemLoader, select_autoescape
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from sqlalchemy import Engine
from sqlalchemy.exc import SQLAlchemyError

from fraudlens.errors import AuthError, BrokerError, ConfigError, RecordsError, ValidationError
from fraudlens.features.registry import ALL_FEATURES
from fraudlens.records.api_keys import PgKeyStore
from fraudlens.records.engine import engine_from_settings
from fraudlens.scoring.interfaces import FeatureSource
from fraudlens.scoring.rule_admin import RuleAdmin
from fraudlens.security.audit import audit_log_from_settings
from fraudlens.security.auth import Authenticator
from fraudlens.security.pan_scan import redact
from fraudlens.security.roles import WORKSPACE_PERMISSION
from fraudlens.settings import Settings, WorkspaceSettings
from fraudlens.workspace.actions import ACTIONS, CaseDesk, LabelPublisher
from fraudlens.workspace.activity import read_activity
from fraudlens.workspace.metrics import WorkspaceCollector
from fraudlens.workspace.overview import bar_chart, overview
from fraudlens.workspace.queue import (
    SORTS,
    STATUS_VIEWS,
    QueueFilter,
    card_history,
    case_trail,
    get_case,
    group_cases,
    labels_of,
    list_queue,
    terminal_history,
)
from fraudlens.workspace.sessions import Session, end_session, load_session, start_session
from fraudlens.workspace.web.rules_pages import PageKit, add_rules_routes
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


class WorkspaceContext:
    """What the workspace routes need; the database parts are made on first use.

    A scoring replica builds its app at start; opening the records database
    then (and, in embedded mode, starting PostgreSQL) would slow every replica
    and fail scoring when the database is down. So ``connect`` runs on the
    first workspace request that needs the database (in a worker thread).

    Args:
        connect: returns the records engine and the ``CaseDesk`` (called once).
        authenticator: checks the API keys / tokens given at sign-in (None:
            no credentials configured, so nobody can sign in).
        settings: the ``workspace`` settings.
    """

    def __init__(
        self,
        connect: Callable[[], tuple[Engine, CaseDesk]],
        authenticator: Authenticator | None,
        settings: WorkspaceSettings | None = None,
    ) -> None:
        self._connect = connect
        self._parts: tuple[Engine, CaseDesk] | None = None
        self._lock = threading.Lock()
        self.authenticator = authenticator
        self.settings = settings or WorkspaceSettings()
        self.rules: RuleAdmin | None = None  # set by the API app when it has an admin context
        self.features: FeatureSource | None = None  # set by the API app: its feature store

    @classmethod
    def ready(
        cls,
        engine: Engine,
        desk: CaseDesk,
        authenticator: Authenticator | None,
        settings: WorkspaceSettings | None = None,
    ) -> WorkspaceContext:
        """A context over an engine and desk that already exist."""
        return cls(lambda: (engine, desk), authenticator, settings)

    def _open(self) -> tuple[Engine, CaseDesk]:
        with self._lock:
            if self._parts is None:
                self._parts = self._connect()
            return self._parts

    @property
    def engine(self) -> Engine:
        """The records database (opened on first use)."""
        return self._open()[0]

    @property
    def keys(self) -> PgKeyStore | None:
        """The authenticator's stored API keys (None: it accepts only the settings' keys,
        so keys made here would not work and the users page is off)."""
        store = self.authenticator.key_store if self.authenticator else None
        return store if isinstance(store, PgKeyStore) else None

    @property
    def desk(self) -> CaseDesk:
        """The analysts' actions (made on first use)."""
        return self._open()[1]


def workspace_context(
    settings: Settings, authenticator: Authenticator | None, publisher: LabelPublisher
) -> WorkspaceContext:
    """Wire the workspace from settings: records engine, audit chain, label publisher.

    Nothing is opened here; the first workspace request that needs the
    database opens it (``ConfigError`` / ``RecordsError`` then answer 503).
    """

    def connect() -> tuple[Engine, CaseDesk]:
        engine = engine_from_settings(settings)
        return engine, CaseDesk(engine, publisher, audit_log_from_settings(settings))

    return WorkspaceContext(connect, authenticator, settings.workspace)


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
    meanings = {spec.name: spec.description for spec in ALL_FEATURES}
    registry = CollectorRegistry(auto_describe=False)
    registry.register(WorkspaceCollector(lambda: ctx.engine, ctx.settings.sla_minutes))
    max_age = ctx.settings.session_minutes * 60
    secure = ctx.settings.secure_cookie

    def page(name: str, status: int = 200, session: Session | None = None, **data: Any) -> Response:
        html = env.get_template(name).render(session=session, prefix=PREFIX, **data)
        return HTMLResponse(html, status_code=status)

    def refused(status: int, reason: str, session: Session | None = None) -> Response:
        # Reasons may echo what was sent (a path, a field): never a card number.
        return page("message.html", status, session, title="Refused", message=redact(reason))

    async def signed_in(request: Request) -> Session | None:
        cookie = request.cookies.get(SESSION_COOKIE)
        found = await run_in_threadpool(lambda: load_session(ctx.engine, cookie))
        return found if found is not None and found.allows(WORKSPACE_PERMISSION) else None

    async def checked_form(request: Request) -> tuple[Session, dict[str, str]] | Response:
        session = await signed_in(request)
        if session is None:
            return refused(401, "Sign in first (your session ended or is not valid).")
        try:
            form = await read_form(request)
        except ValidationError as exc:
            return refused(400, f"{exc.field}: {exc.reason}", session)
        if not session.csrf_ok(form.get("csrf")):
            return refused(
                403, "The form's CSRF token is missing or wrong: reload the page.", session
            )
        return session, form

    @router.get("/static/workspace.css")
    async def stylesheet() -> Response:
        return FileResponse(HERE / "static" / "workspace.css", media_type="text/css")

    @router.get("/metrics")
    async def metrics() -> Response:
        data = await run_in_threadpool(generate_latest, registry)
        return Response(data, media_type=CONTENT_TYPE_LATEST)

    @router.get("/")
    async def home(request: Request) -> Response:
        target = "queue" if await signed_in(request) else "sign-in"
        return RedirectResponse(f"{PREFIX}/{target}", status_code=303)

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
        response = RedirectResponse(f"{PREFIX}/queue", status_code=303)
        set_cookie(response, SESSION_COOKIE, session_id, secure, max_age)
        response.delete_cookie(LOGIN_COOKIE, path=PREFIX)
        return response

    @router.post("/sign-out")
    async def sign_out(request: Request) -> Response:
        checked = await checked_form(request)
        if isinstance(checked, Response):
            return checked
        cookie = request.cookies[SESSION_COOKIE]
        await run_in_threadpool(lambda: end_session(ctx.engine, cookie))
        response = RedirectResponse(f"{PREFIX}/sign-in", status_code=303)
        response.delete_cookie(SESSION_COOKIE, path=PREFIX)
        return response

    @router.get("/queue")
    async def queue(request: Request) -> Response:
        session = await signed_in(request)
        if session is None:
            return RedirectResponse(f"{PREFIX}/sign-in", status_code=303)
        args = request.query_params
        try:
            wanted = QueueFilter(
                status=args.get("status") or "open",
                min_score=_number(args.get("min_score"), "min_score"),
                min_amount=_number(args.get("min_amount"), "min_amount"),
                rule=redact(args.get("rule") or "") or None,
                model_version=redact(args.get("model_version") or "") or None,
                sort=args.get("sort") or "score",
            )
        except ValidationError as exc:
            return refused(422, f"{exc.field}: {exc.reason}", session)

        def read() -> list[dict[str, Any]]:
            with ctx.engine.connect() as conn:
                return list_queue(conn, wanted, ctx.settings.page_size)

        rows = await run_in_threadpool(read)
        return page(
            "queue.html",
            session=session,
            rows=rows,
            wanted=wanted,
            sorts=SORTS,
            statuses=STATUS_VIEWS,
            sla_seconds=ctx.settings.sla_minutes * 60,
        )

    @router.get("/cases/{case_id}")
    async def case_page(request: Request, case_id: str) -> Response:
        session = await signed_in(request)
        if session is None:
            return RedirectResponse(f"{PREFIX}/sign-in", status_code=303)

        def read() -> dict[str, Any] | None:
            with ctx.engine.connect() as conn:
                case = get_case(conn, case_id)
                if case is None:
                    return None
                terminal = (case["transaction"] or {}).get("terminal_id")
                card = card_history(conn, case["card_token"], case["event_time"])
                return {
                    "case": case,
                    "trail": case_trail(conn, case_id),
                    "group": group_cases(conn, case["group_key"]) if case["group_key"] else [],
                    "labels": labels_of(conn, case["transaction_id"]),
                    "card_history": card,
                    "terminal_history": (
                        terminal_history(conn, terminal, case["event_time"]) if terminal else []
                    ),
                    "scores": bar_chart(
                        [
                            (
                                r["event_time"].strftime("%m-%d %H:%M"),
                                round((r["score"] or 0) * 100),
                            )
                            for r in reversed(card)
                        ]
                    ),
                }

        found = await run_in_threadpool(read)
        if found is None:
            return refused(404, "No such case.", session)
        found["stored"] = await run_in_threadpool(read_activity, ctx.features, found["case"])
        return page("case.html", session=session, meanings=meanings, actions=ACTIONS, **found)

    async def carry_out(
        request: Request, action: Callable[[Session, dict[str, str]], object], then: str
    ) -> Response:
        """Check the form, run ``action`` (a desk call), then go to ``then``."""
        checked = await checked_form(request)
        if isinstance(checked, Response):
            return checked
        session, form = checked
        try:
            await run_in_threadpool(action, session, form)
        except ValidationError as exc:
            return refused(422, f"{exc.field}: {exc.reason}", session)
        except (BrokerError, ConfigError):
            return refused(503, "The labels topic is unavailable: nothing was changed.", session)
        return RedirectResponse(then, status_code=303)

    @router.post("/cases/{case_id}")
    async def case_action(request: Request, case_id: str) -> Response:
        return await carry_out(
            request,
            lambda s, f: ctx.desk.act(case_id, s.actor, f.get("action", ""), f.get("note", "")),
            f"{PREFIX}/cases/{quote(case_id, safe='')}",
        )

    @router.post("/cards/close")
    async def close_card(request: Request) -> Response:
        return await carry_out(
            request,
            lambda s, f: ctx.desk.close_card(
                f.get("card_token", ""), s.actor, f.get("verdict", ""), f.get("note", "")
            ),
            f"{PREFIX}/queue",
        )

    kit = PageKit(PREFIX, page, refused, signed_in, checked_form)
    add_rules_routes(router, kit, lambda: ctx.rules)
    add_users_routes(router, kit, lambda: ctx.keys, lambda: ctx.desk.audit)

    @router.get("/overview")
    async def overview_page(request: Request) -> Response:
        session = await signed_in(request)
        if session is None:
            return RedirectResponse(f"{PREFIX}/sign-in", status_code=303)

        def read() -> Any:
            with ctx.engine.connect() as conn:
                return overview(conn)

        figures = await run_in_threadpool(read)
        chart = bar_chart([(d.isoformat(), n) for d, n in figures.alerts_per_day])
        return page("overview.html", session=session, figures=figures, chart=chart)

    return router


def _number(value: str | None, name: str) -> float | None:
    if value is None or value.strip() == "":
        return None
    try:
        return float(value)
    except ValueError:
        raise ValidationError(name, f"{value[:32]!r} is not a number") from None


def mount_workspace(app: FastAPI, ctx: WorkspaceContext) -> None:
    """Serve the workspace from ``app``: its routes, headers, and a 503 page when the
    records database cannot be reached (the rest of the app is not affected)."""
    app.include_router(workspace_router(ctx))
    app.add_middleware(WorkspaceHeaders)

    async def unavailable(request: Request, exc: Exception) -> Response:
        logger.warning("the records database is unavailable: %s", exc)
        if not request.url.path.startswith(PREFIX):
            return JSONResponse(
                {"error": "records_unavailable", "detail": "the records database is unavailable"},
                status_code=503,
            )
        html = (
            _templates()
            .get_template("message.html")
            .render(
                session=None,
                prefix=PREFIX,
                title="Unavailable",
                message="The case database is unavailable; try again shortly.",
            )
        )
        return HTMLResponse(html, status_code=503)

    for kind in (RecordsError, SQLAlchemyError):
        app.add_exception_handler(kind, unavailable)
