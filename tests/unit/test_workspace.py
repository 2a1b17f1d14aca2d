"""Workspace parts that need no database: filters, notes, forms, headers, sessions, charts."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest
from asgi_client import AsgiClient
from fastapi import FastAPI, Request
from fastapi.responses import PlainTextResponse

from fraudlens.errors import ValidationError
from fraudlens.security.roles import Permission, Role
from fraudlens.workspace import QueueFilter
from fraudlens.workspace.actions import _check_note
from fraudlens.workspace.overview import bar_chart
from fraudlens.workspace.sessions import Session
from fraudlens.workspace.web.security import CSP, WorkspaceHeaders, read_form, same_token

PAN = "4111 1111 1111 1111"


def test_queue_filter_names_the_bad_field() -> None:
    with pytest.raises(ValidationError) as err:
        QueueFilter(sort="newest")
    assert err.value.field == "sort"
    with pytest.raises(ValidationError) as err:
        QueueFilter(status="lost")
    assert err.value.field == "status"


def test_notes_are_checked_and_card_numbers_redacted() -> None:
    assert _check_note("note", f"  card {PAN} called  ") == "card [PAN REDACTED] called"
    assert _check_note("fraud", "") == ""
    for action, note, field in (
        ("note", "   ", "note"),
        ("note", "x" * 2001, "note"),
        ("delete", "x", "action"),
    ):
        with pytest.raises(ValidationError) as err:
            _check_note(action, note)
        assert err.value.field == field


def test_session_roles_and_csrf() -> None:
    analyst = Session("api_key:ana", frozenset({Role.ANALYST}), "tok-1")
    scorer = Session("api_key:pay", frozenset({Role.SCORER}), "tok-2")
    assert analyst.allows(Permission.WORK_CASES) and not scorer.allows(Permission.WORK_CASES)
    assert analyst.csrf_ok("tok-1")
    assert not analyst.csrf_ok("tok-2") and not analyst.csrf_ok(None) and not analyst.csrf_ok("")
    assert not same_token("", "") and same_token("a", "a") and not same_token("a", None)


def test_forms_and_headers() -> None:
    app = FastAPI()

    @app.post("/workspace/echo")
    async def echo(request: Request) -> PlainTextResponse:
        try:
            form = await read_form(request)
        except ValidationError as exc:
            return PlainTextResponse(exc.field, status_code=400)
        return PlainTextResponse(form["note"])

    @app.get("/other")
    async def other() -> PlainTextResponse:
        return PlainTextResponse("x")

    app.add_middleware(WorkspaceHeaders)
    with AsgiClient(app) as client:
        _check_forms_and_headers(client)


def _check_forms_and_headers(client: AsgiClient) -> None:
    ok = client.post("/workspace/echo", data={"note": "<b>hi</b> & more"})
    assert ok.text == "<b>hi</b> & more"
    assert ok.headers["content-security-policy"] == CSP
    assert "script-src" not in CSP and "default-src 'none'" in CSP
    assert ok.headers["x-frame-options"] == "DENY"
    as_json = client.post("/workspace/echo", json={"note": "x"})
    assert (as_json.status_code, as_json.text) == (400, "content-type")
    too_big = client.post("/workspace/echo", data={"note": "x" * 20_000})
    assert (too_big.status_code, too_big.text) == (400, "$")
    assert "content-security-policy" not in client.get("/other").headers


def test_bar_chart_scales_to_the_tallest_bar() -> None:
    chart = bar_chart([("a", 1), ("b", 4)], width=100, height=120)
    bars = chart["bars"]
    assert isinstance(bars, list)
    assert [b["height"] for b in bars] == [25.0, 100.0]
    assert bar_chart([])["bars"] == []


def test_sign_in_page_cookie_is_secure_by_default_and_posts_need_csrf() -> None:
    from sqlalchemy import create_engine

    from fraudlens.workspace.web import WorkspaceContext, WorkspaceHeaders, workspace_router

    engine = create_engine("postgresql+psycopg://nobody@127.0.0.1:1/none")  # never connected
    app = FastAPI()
    app.include_router(workspace_router(WorkspaceContext.ready(engine, None, None)))  # type: ignore[arg-type]
    app.add_middleware(WorkspaceHeaders)
    with AsgiClient(app, base_url="https://api") as client:
        form = client.get("/workspace/sign-in")
        cookie = form.headers["set-cookie"].lower()
        for flag in ("secure", "httponly", "samesite=strict", "path=/workspace"):
            assert flag in cookie
        assert "<script" not in form.text and 'name="csrf"' in form.text
        refused = client.post("/workspace/sign-in", data={"api_key": "fl_x_" + "a" * 43})
        assert refused.status_code == 403 and "CSRF" in refused.text
        away = client.get("/workspace/queue")
        assert (away.status_code, away.headers["location"]) == (303, "/workspace/sign-in")
    engine.dispose()


def test_an_unreachable_database_gives_a_503_page_not_a_crash() -> None:
    from fraudlens.errors import RecordsError
    from fraudlens.workspace.web import WorkspaceContext, mount_workspace

    def connect() -> Any:
        raise RecordsError("cannot reach the records database: connection refused")

    app = FastAPI()
    mount_workspace(app, WorkspaceContext(connect, None))
    with AsgiClient(app) as client:
        answer = client.get("/workspace/queue", headers={"cookie": "fl_ws_session=x"})
        assert answer.status_code == 503 and "unavailable" in answer.text
        assert answer.headers["content-security-policy"] == CSP
        assert client.get("/workspace/metrics").status_code == 503


def test_a_card_number_typed_into_a_number_filter_is_refused_unechoed() -> None:
    from fraudlens.security.pan_scan import find_pans
    from fraudlens.workspace.web.case_pages import _number

    assert _number(" 12.5 ", "min_amount") == 12.5 and _number("", "min_amount") is None
    for typed in (PAN, PAN.replace(" ", ""), f"{PAN.replace(' ', '')}.0"):
        with pytest.raises(ValidationError) as err:
            _number(typed, "min_amount")
        assert err.value.field == "min_amount" and not find_pans(err.value.reason)
    with pytest.raises(ValidationError) as err:
        _number("1.2.3", "min_age_minutes")
    assert err.value.field == "min_age_minutes"


def test_overview_page_draws_alerts_verdicts_and_model_or_rules() -> None:
    from fraudlens.workspace.overview import Overview, bar_chart
    from fraudlens.workspace.web.pages import _templates

    figures = Overview(
        alerts_per_day=[(date(2026, 6, 3), 3)],
        verdicts_per_day=[(date(2026, 6, 3), 1, 2), (date(2026, 6, 4), 1, 1)],
        fraud_by_model=2,
    )
    charts = {
        "alerts": bar_chart([("2026-06-03", 3)]),
        "frauds": bar_chart([("2026-06-03", 1), ("2026-06-04", 1)]),
        "caught": bar_chart([("model", 2), ("rules", 0)], width=160),
    }
    html = (
        _templates()
        .get_template("overview.html")
        .render(figures=figures, charts=charts, session=None, csrf="t", prefix="/workspace")
    )
    assert html.count('<svg class="chart"') == 3
    assert "06-03 1 of 2, 06-04 1 of 1" in html
    assert "<title>model: 2</title>" in html and "<title>rules: 0</title>" in html


def test_public_metrics_read_the_database_at_most_once_per_interval() -> None:
    from fraudlens.workspace.metrics import WorkspaceCollector

    reads: list[int] = []

    class Result:
        def all(self) -> list[Any]:
            return []

        def scalar_one(self) -> int:
            return len(reads)

    class Conn:
        def __enter__(self) -> Conn:
            reads.append(1)
            return self

        def __exit__(self, *_: Any) -> None:
            return None

        def execute(self, _: Any) -> Result:
            return Result()

    class Engine:
        def connect(self) -> Conn:
            return Conn()

    now = [100.0]
    collector = WorkspaceCollector(lambda: Engine(), 30, min_interval=10.0, clock=lambda: now[0])  # type: ignore[arg-type, return-value]

    def breached() -> float:
        (metric,) = [m for m in collector.collect() if m.name.endswith("sla_breached_cases")]
        return metric.samples[0].value

    assert [breached() for _ in range(50)] == [1.0] * 50  # a burst of scrapes: one read
    now[0] += 9.9
    assert breached() == 1.0 and len(reads) == 1
    now[0] += 0.1
    assert breached() == 2.0 and len(reads) == 2  # the interval passed: read again
