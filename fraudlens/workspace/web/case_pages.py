"""The analysts' pages: the queue, a case and its actions, and the overview."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response

from fraudlens.errors import AuditError, BrokerError, ConfigError, ValidationError
from fraudlens.features.registry import ALL_FEATURES
from fraudlens.security.pan_scan import redact
from fraudlens.workspace.actions import ACTIONS
from fraudlens.workspace.activity import read_activity
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
from fraudlens.workspace.sessions import Session
from fraudlens.workspace.web.context import WorkspaceContext
from fraudlens.workspace.web.kit import PageKit


def add_case_routes(router: APIRouter, kit: PageKit, ctx: WorkspaceContext) -> None:
    """Add the queue, case, card and overview routes to ``router``."""
    meanings = {spec.name: spec.description for spec in ALL_FEATURES}

    @router.get("/queue")
    async def queue(request: Request) -> Response:
        session = await kit.viewer(request)
        if isinstance(session, Response):
            return session
        args = request.query_params
        try:
            wanted = QueueFilter(
                status=args.get("status") or "open",
                min_score=_number(args.get("min_score"), "min_score"),
                min_amount=_number(args.get("min_amount"), "min_amount"),
                rule=redact(args.get("rule") or "") or None,
                model_version=redact(args.get("model_version") or "") or None,
                min_age_minutes=_number(args.get("min_age"), "min_age_minutes"),
                max_age_minutes=_number(args.get("max_age"), "max_age_minutes"),
                sort=args.get("sort") or "score",
                grouped=_grouped(args.get("view")),
            )
        except ValidationError as exc:
            return kit.refused(422, f"{exc.field}: {exc.reason}", session)

        def read() -> list[dict[str, Any]]:
            with ctx.engine.connect() as conn:
                return list_queue(conn, wanted, ctx.settings.page_size)

        rows = await run_in_threadpool(read)
        return kit.page(
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
        session = await kit.viewer(request)
        if isinstance(session, Response):
            return session

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
            return kit.refused(404, "No such case.", session)
        found["stored"] = await run_in_threadpool(read_activity, ctx.features, found["case"])
        return kit.page("case.html", session=session, meanings=meanings, actions=ACTIONS, **found)

    async def carry_out(
        request: Request, action: Callable[[Session, dict[str, str]], object], then: str
    ) -> Response:
        """Check the form, run ``action`` (a desk call), then go to ``then``."""
        checked = await kit.checked_form(request)
        if isinstance(checked, Response):
            return checked
        session, form = checked
        try:
            await run_in_threadpool(action, session, form)
        except ValidationError as exc:
            return kit.refused(422, f"{exc.field}: {exc.reason}", session)
        except (BrokerError, ConfigError):
            return kit.refused(
                503, "The labels topic is unavailable: nothing was changed.", session
            )
        except AuditError:
            return kit.refused(
                503, "The audit log cannot be written: nothing was changed.", session
            )
        return kit.go(then)

    @router.post("/cases/{case_id}")
    async def case_action(request: Request, case_id: str) -> Response:
        return await carry_out(
            request,
            lambda s, f: ctx.desk.act(case_id, s.actor, f.get("action", ""), f.get("note", "")),
            f"/cases/{quote(case_id, safe='')}",
        )

    @router.post("/cards/close")
    async def close_card(request: Request) -> Response:
        return await carry_out(
            request,
            lambda s, f: ctx.desk.close_card(
                f.get("card_token", ""), s.actor, f.get("verdict", ""), f.get("note", "")
            ),
            "/queue",
        )

    @router.get("/overview")
    async def overview_page(request: Request) -> Response:
        session = await kit.viewer(request)
        if isinstance(session, Response):
            return session

        def read() -> Any:
            with ctx.engine.connect() as conn:
                return overview(conn)

        figures = await run_in_threadpool(read)
        charts = {
            "alerts": bar_chart([(d.isoformat(), n) for d, n in figures.alerts_per_day]),
            "frauds": bar_chart([(d.isoformat(), f) for d, f, _ in figures.verdicts_per_day]),
            "caught": bar_chart(
                [("model", figures.fraud_by_model), ("rules", figures.fraud_by_rules)], width=160
            ),
        }
        return kit.page("overview.html", session=session, figures=figures, charts=charts)


def _grouped(view: str | None) -> bool:
    """The queue's ``view``: one row per card group (the default) or every case."""
    if view in (None, "", "groups"):
        return True
    if view == "cases":
        return False
    raise ValidationError("view", f"{redact(view)[:32]!r} is not one of ['groups', 'cases']")


def _number(value: str | None, name: str) -> float | None:
    if value is None or value.strip() == "":
        return None
    if redact(value) != value:  # never echoed back, not even as a number
        raise ValidationError(name, "looks like a card number")
    try:
        return float(value)
    except ValueError:
        raise ValidationError(name, f"{value[:32]!r} is not a number") from None
