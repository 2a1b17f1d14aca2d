"""The analyst workspace in a real browser (Chromium through Playwright).

An analyst signs in, opens the top case, sees its reasons and history, marks it
fraud: the case closes, the label is in PostgreSQL and on the labels topic
(the records sink reads it back as the very label already stored), the audit
chain has the verdict. A second analyst sees the case closed. A scorer key is
refused. Security: injected markup stays text, forms without their CSRF token
and sessions of another analyst are refused, signed-out sessions are dead.
Every response the app sent is scanned for card numbers (see conftest).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
import pytest
from cases_data import CARD_A, CARD_B, TERMINAL, decision, store
from sqlalchemy import func, select
from workspace_app import Workspace

from fraudlens.errors import AuditError
from fraudlens.records.audit import PgAuditLog
from fraudlens.records.labels import LabelRecord, add_labels, latest_labels
from fraudlens.records.sink import DecisionWriter, run_decision_sink
from fraudlens.records.tables import audit, case_events, cases, labels
from fraudlens.scoring.result import Reason
from fraudlens.security.audit import AuditEntry
from fraudlens.security.pan_scan import find_pans
from fraudlens.settings import RecordsSettings, Settings
from fraudlens.workspace.web.security import CSP

pytestmark = pytest.mark.integration

CARD_C = "tok_k1_" + "c" * 32
CARD_X = "tok_k1_" + "e" * 32
INJECTED = '<script>window.__pwned = 1</script><img src="x" onerror="window.__pwned = 2">'
SignIn = Callable[[str], Any]


@pytest.fixture(scope="module", autouse=True)
def _cases(workspace: Workspace) -> None:
    """Decisions through the records sink's writer (which opens the cases)."""
    from datetime import UTC, datetime

    top_reasons = [
        Reason(kind="rule", code="amount_over_limit", text="amount over 500", value=900.0),
        Reason(
            kind="model",
            code="card_amount_ratio_30d",
            text="amount far above the card's usual",
            value=12.5,
            contribution=1.7,
        ),
    ]
    store(
        DecisionWriter(workspace.engine),
        [
            decision("h1", CARD_C, -600, decision="approve", score=0.2),  # earlier, same terminal
            decision("a1", CARD_A, 0, score=0.70),
            decision("a2", CARD_A, 30, score=0.97, amount=900.0, reasons=top_reasons),
            decision("b1", CARD_B, 5, score=0.81, terminal="T9"),
            decision("b2", CARD_B, 400, score=0.62, terminal="T9"),
            decision(
                "x1",
                CARD_X,
                8,
                score=0.75,
                terminal="T8",
                reasons=[Reason(kind="rule", code="odd", text=INJECTED)],
            ),
        ],
    )
    with workspace.engine.begin() as conn:  # a chargeback on the terminal's earlier sale
        add_labels(conn, [LabelRecord("h1", True, datetime(2026, 6, 3, tzinfo=UTC), "chargeback")])


def _csrf(page: Any) -> str:
    return str(page.locator("input[name=csrf]").first.get_attribute("value"))


def test_analyst_works_the_top_case(workspace: Workspace, sign_in: SignIn) -> None:
    page = sign_in("ana1")
    assert page.url.endswith("/workspace/queue")
    # One row per card group by default (a1 and a2 are one card's within the window).
    grouped = page.locator("tr.case-row").all_inner_texts()
    assert len(grouped) == 4 and grouped[0].startswith("a2") and "a1" not in "".join(grouped)
    assert grouped[0].split("\t")[8] == "2"  # the group's size
    page.select_option("select[name=view]", "cases")
    page.click("form.filters button[type=submit]")
    assert len(page.locator("tr.case-row").all_inner_texts()) == 5
    page.goto(f"{workspace.url}/queue?view=every")
    assert "view: 'every' is not one of" in page.content()
    page.goto(f"{workspace.url}/queue")
    page.locator("a.case-link").first.click()
    assert page.locator("#transaction-id").inner_text() == "a2"
    assert page.locator("#card-last4").inner_text() == "4242"  # truncated PAN, never more
    reasons = page.locator("#reasons").inner_text()
    assert "amount far above the card's usual" in reasons
    assert "amount / the card's mean amount over 30 days" in reasons  # the feature's meaning
    assert "amount over 500" in reasons
    assert "a1" in page.locator("#card-history").inner_text()
    terminal = page.locator("#terminal-history").inner_text()
    assert "h1" in terminal and "fraud" in terminal  # the terminal's labelled sale
    # What the feature store holds now: the card's sales (the later one marked), the terminal's days.
    stored = page.locator("#stored-card tbody tr").all_inner_texts()
    assert len(stored) == 3 and "777.00" in stored[0] and "after this case" in stored[0]
    assert "33.00" in stored[1] and "after this case" not in stored[1]
    days = page.locator("#stored-terminal tbody tr").all_inner_texts()
    assert [d.split("\t")[1:] for d in days] == [["5", "0"], ["38", "1"], ["41", "0"]]
    page.fill("textarea[name=note]", "cardholder denies")
    page.click("#mark-fraud")
    assert page.locator("#case-status").inner_text() == "closed"
    assert page.locator("#case-resolution").inner_text() == "fraud"

    with workspace.engine.connect() as conn:
        label = conn.execute(select(labels).where(labels.c.transaction_id == "a2")).one()
        last = conn.execute(select(audit).order_by(audit.c.seq.desc()).limit(1)).one()
    assert (label.is_fraud, label.source, label.author) == (True, "analyst", "api_key:ana1")
    assert (last.action, last.target, last.actor) == ("case.fraud", "d-a2", "api_key:ana1")
    assert workspace.audit.verify().problems == []

    # The labels topic carries the same label: the records sink finds it already stored.
    settings = Settings(
        kafka=workspace.kafka,
        records=RecordsSettings(database_url=workspace.engine.url.render_as_string(False)),
    )
    stats = run_decision_sink(settings, labels=True, idle_timeout=4.0, group_id="ws-check")
    assert (stats.consumed, stats.labels_already_stored, stats.dead_lettered) == (1, 1, 0)

    # A second analyst sees it closed, with the first one's verdict.
    other = sign_in("ana2")
    assert "a2" not in other.locator("table.queue").inner_text()
    other.goto(f"{workspace.url}/queue?status=closed")
    assert "a2" in other.locator("table.queue").inner_text()
    other.locator("a.case-link", has_text="a2").click()
    assert other.locator("#case-status").inner_text() == "closed"
    assert "api_key:ana1" in other.locator(".status").inner_text()

    # ... and may re-label it: every label is kept, the latest wins, the audit says what it was.
    other.click("#mark-legitimate")
    assert other.locator("#case-resolution").inner_text() == "legitimate"
    with workspace.engine.connect() as conn:
        kept = conn.execute(select(labels.c.author).where(labels.c.transaction_id == "a2")).all()
        latest = latest_labels(conn, ["a2"])["a2"]
        last = conn.execute(select(audit).order_by(audit.c.seq.desc()).limit(1)).one()
    assert len(kept) == 2 and (latest.is_fraud, latest.author) == (False, "api_key:ana2")
    assert (last.action, last.details["previous"]) == ("case.legitimate", "fraud")


def test_scorer_key_is_refused(workspace: Workspace, sign_in: SignIn, browser: Any) -> None:
    page = sign_in("pay")
    assert "may not use the workspace" in page.content()
    page.goto(f"{workspace.url}/queue")
    assert page.url.endswith("/workspace/sign-in")  # no session was opened
    anonymous = browser.new_context().new_page()
    anonymous.goto(f"{workspace.url}/cases/d-b1")
    assert anonymous.url.endswith("/workspace/sign-in")
    anonymous.context.close()


def test_injected_markup_stays_text(workspace: Workspace, sign_in: SignIn) -> None:
    page = sign_in("ana1")
    page.goto(f"{workspace.url}/cases/d-x1")
    page.fill("textarea[name=note]", INJECTED)
    page.click("#add-note")
    page.goto(f"{workspace.url}/cases/d-x1")
    assert page.locator("#reasons").inner_text().count(INJECTED) == 1  # a reason's text
    assert INJECTED in page.locator("#trail").inner_text()  # the note
    page.goto(f"{workspace.url}/queue?rule={INJECTED}&model_version={INJECTED}")
    assert page.locator("input[name=rule]").input_value() == INJECTED
    page.goto(f"{workspace.url}/queue?min_score={INJECTED}")
    assert "min_score" in page.content()
    for url in (f"{workspace.url}/cases/d-x1", f"{workspace.url}/queue?rule={INJECTED}"):
        page.goto(url)
        assert page.evaluate("window.__pwned") is None
        assert page.locator("script").count() == 0


def test_forms_need_their_csrf_token(workspace: Workspace, sign_in: SignIn) -> None:
    page = sign_in("ana1")
    page.goto(f"{workspace.url}/cases/d-b1")
    token = _csrf(page)
    for form in ({"action": "fraud"}, {"action": "fraud", "csrf": token[:-2] + "xx"}):
        answer = page.request.post(f"{workspace.url}/cases/d-b1", form=form)
        assert answer.status == 403 and "CSRF" in answer.text()
    answer = page.request.post(
        f"{workspace.url}/cards/close", form={"card_token": CARD_B, "verdict": "fraud"}
    )
    assert answer.status == 403
    with httpx.Client() as client:  # the sign-in form too
        refused = client.post(f"{workspace.url}/sign-in", data={"api_key": workspace.keys["ana1"]})
    assert refused.status_code == 403
    with workspace.engine.connect() as conn:
        assert (
            conn.execute(select(cases.c.status).where(cases.c.case_id == "d-b1")).scalar() == "open"
        )


def test_one_analyst_cannot_act_with_anothers_session(
    workspace: Workspace, sign_in: SignIn, browser: Any
) -> None:
    first, second = sign_in("ana1"), sign_in("ana2")
    first.goto(f"{workspace.url}/cases/d-b1")
    stolen_token = _csrf(first)
    answer = second.request.post(
        f"{workspace.url}/cases/d-b1", form={"action": "fraud", "csrf": stolen_token}
    )
    assert answer.status == 403  # the token belongs to the other session

    # A copied session cookie dies with its sign-out, on every replica (it is in PostgreSQL).
    cookie = next(c for c in first.context.cookies() if c["name"] == "fl_ws_session")
    first.click("text=Sign out")
    assert first.url.endswith("/workspace/sign-in")
    thief = browser.new_context()
    thief.add_cookies([cookie])
    page = thief.new_page()
    page.goto(f"{workspace.url}/queue")
    assert page.url.endswith("/workspace/sign-in")
    answer = page.request.post(
        f"{workspace.url}/cases/d-b1", form={"action": "fraud", "csrf": stolen_token}
    )
    assert answer.status == 401
    thief.close()
    with workspace.engine.connect() as conn:
        assert (
            conn.execute(select(cases.c.status).where(cases.c.case_id == "d-b1")).scalar() == "open"
        )


def test_headers_cookies_bulk_close_and_metrics(workspace: Workspace, sign_in: SignIn) -> None:
    page = sign_in("boss")  # admins work cases too
    answer = page.goto(f"{workspace.url}/queue")
    assert answer.headers["content-security-policy"] == CSP
    assert answer.headers["x-frame-options"] == "DENY"
    (cookie,) = [c for c in page.context.cookies() if c["name"] == "fl_ws_session"]
    assert cookie["httpOnly"] and cookie["sameSite"] == "Strict" and cookie["path"] == "/workspace"

    page.goto(f"{workspace.url}/cases/d-b2")
    page.select_option("select[name=verdict]", "legitimate")
    page.click("#close-card")
    assert page.url.endswith("/workspace/queue")
    with workspace.engine.connect() as conn:
        closed = conn.execute(
            select(cases.c.case_id, cases.c.resolution).where(cases.c.card_token == CARD_B)
        ).all()
    assert sorted(closed) == [("d-b1", "legitimate"), ("d-b2", "legitimate")]

    page.goto(f"{workspace.url}/overview")
    assert page.locator("#queue-size").inner_text().isdigit()
    with httpx.Client() as client:
        text = client.get(f"{workspace.url}/metrics").text
    assert 'fraudlens_workspace_verdicts{analyst="api_key:boss",verdict="legitimate"} 2.0' in text
    assert "fraudlens_workspace_oldest_case_age_seconds" in text
    assert TERMINAL not in text  # figures only


def test_an_admin_sets_a_limit_and_an_analyst_cannot(workspace: Workspace, sign_in: SignIn) -> None:
    page = sign_in("boss")
    page.click("nav >> text=Rules")
    page.fill("#limit-form input[name=name]", "big_amount")
    page.fill("#limit-form input[name=max]", "5000")
    page.fill("#limit-form input[name=text]", INJECTED)
    page.click("#save-limit")
    assert page.locator("#rules-version").inner_text() == "1"
    limits = page.locator("#limits").inner_text()
    assert "big_amount" in limits and INJECTED in limits
    assert page.evaluate("window.__pwned") is None and page.locator("script").count() == 0
    with workspace.engine.connect() as conn:
        last = conn.execute(select(audit).order_by(audit.c.seq.desc()).limit(1)).one()
    assert (last.actor, last.action, last.target) == (
        "api_key:boss",
        "rule.changed",
        "rules version 1",
    )

    analyst = sign_in("ana1")
    assert analyst.locator("nav >> text=Rules").count() == 0
    analyst.goto(f"{workspace.url}/rules")
    assert "Only admins manage rules." in analyst.content()


# A Luhn-valid test card number (Mastercard's), spaced as a cardholder reads it out.
TEST_PAN = "5555 5555 5555 4444"


def test_card_numbers_typed_in_never_come_back(workspace: Workspace, sign_in: SignIn) -> None:
    page = sign_in("ana1")
    start = len(workspace.responses)
    page.goto(f"{workspace.url}/cases/d-x1")
    page.fill("textarea[name=note]", f"cardholder read out {TEST_PAN}")
    page.click("#add-note")
    page.goto(f"{workspace.url}/cases/d-x1")
    assert "[PAN REDACTED]" in page.locator("#trail").inner_text()
    page.goto(f"{workspace.url}/queue")
    page.fill("input[name=rule]", TEST_PAN)
    page.fill("input[name=model_version]", TEST_PAN.replace(" ", ""))
    page.click("form.filters button[type=submit]")
    assert page.locator("input[name=rule]").input_value() == "[PAN REDACTED]"
    for field in ("min_score", "min_amount", "min_age", "max_age"):  # numbers: refused or kept
        for typed in (TEST_PAN, TEST_PAN.replace(" ", "")):
            page.goto(f"{workspace.url}/queue")
            page.fill(f"input[name={field}]", typed)
            page.click("form.filters button[type=submit]")
    sent = workspace.responses[start:]
    assert len(sent) >= 12
    leaked = [
        path for path, body in sent if find_pans(body.decode(errors="replace"), networks_only=True)
    ]
    assert leaked == []  # the module's guard (conftest) scans every response again
    with workspace.engine.connect() as conn:
        notes = conn.execute(select(case_events.c.note)).scalars().all()
        entries = conn.execute(select(audit.c.body)).scalars().all()
    assert not [t for t in [*notes, *entries] if find_pans(t, networks_only=True)]


class _BrokenAudit(PgAuditLog):
    def append_in(self, conn: Any, *args: Any, **kwargs: Any) -> AuditEntry:
        raise AuditError("cannot append to the audit table: disk full")


def test_an_audit_failure_changes_nothing_and_says_so(
    workspace: Workspace, sign_in: SignIn
) -> None:
    page = sign_in("ana1")
    page.goto(f"{workspace.url}/cases/d-a1")
    with workspace.engine.connect() as conn:
        entries = conn.execute(select(func.count()).select_from(audit)).scalar_one()
    working, workspace.desk.audit = workspace.desk.audit, _BrokenAudit(workspace.engine)
    try:
        answer = page.request.post(
            f"{workspace.url}/cases/d-a1", form={"action": "fraud", "csrf": _csrf(page)}
        )
        assert answer.status == 503 and "audit log cannot be written" in answer.text()
    finally:
        workspace.desk.audit = working
    with workspace.engine.connect() as conn:
        status = conn.execute(select(cases.c.status).where(cases.c.case_id == "d-a1")).scalar()
        a1_labels = conn.execute(select(labels).where(labels.c.transaction_id == "a1")).all()
        after = conn.execute(select(func.count()).select_from(audit)).scalar_one()
    assert (status, a1_labels, after) == ("open", [], entries)
