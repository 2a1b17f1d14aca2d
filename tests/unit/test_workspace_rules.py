"""The workspace's rules page in the real API app: admins change the live rules through the
API's own code path (same store, same audit entry, applied at once); analysts are refused,
forms need their CSRF token, free text is rendered inert.

Sessions live in PostgreSQL; here ``load_session`` is replaced by a lookup of two fixed
sessions (the database-backed sign-in is covered by the integration tests).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from asgi_client import AsgiClient
from fake_api import fake_api_context
from sqlalchemy import create_engine

from fraudlens.errors import ValidationError
from fraudlens.scoring.config import Limit, Rules
from fraudlens.scoring.rule_store import FileRuleStore
from fraudlens.security.audit import AuditLog
from fraudlens.security.auth import Authenticator, generate_api_key
from fraudlens.security.roles import Role
from fraudlens.settings import ApiKeyEntry
from fraudlens.workspace.rules import with_limit, with_list_entry, without_limit
from fraudlens.workspace.sessions import Session
from fraudlens.workspace.web import WorkspaceContext
from ray_apps.admin import AdminContext
from ray_apps.api import create_api

SESSIONS = {
    "boss-cookie": Session("api_key:boss", frozenset({Role.ADMIN}), "csrf-boss"),
    "ana-cookie": Session("api_key:ana", frozenset({Role.ANALYST}), "csrf-ana"),
}
KID, KEY, DIGEST = generate_api_key("boss")
SCRIPT = '<script>alert("x")</script>'


@dataclass
class App:
    client: AsgiClient
    audit: AuditLog
    store: FileRuleStore
    ctx: Any

    def get(self, path: str, who: str = "boss") -> Any:
        return self.client.get(path, headers={"cookie": f"fl_ws_session={who}-cookie"})

    def post(self, form: dict[str, str], who: str = "boss", csrf: str | None = None) -> Any:
        version = self.store.version()
        data = {"csrf": csrf if csrf is not None else f"csrf-{who}", "version": str(version)}
        return self.client.post(
            "/workspace/rules",
            data={**data, **form},
            headers={"cookie": f"fl_ws_session={who}-cookie"},
        )


def _no_use(*_: Any) -> Any:
    raise AssertionError("not used")


@pytest.fixture
def app(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[App]:
    monkeypatch.setattr(
        "fraudlens.workspace.web.kit.load_session", lambda _engine, cookie: SESSIONS.get(cookie)
    )
    store, audit = FileRuleStore(tmp_path / "rules.json"), AuditLog(tmp_path / "audit.jsonl")
    engine = create_engine("postgresql+psycopg://nobody@127.0.0.1:1/none")  # never connected
    authenticator = Authenticator({KID: ApiKeyEntry(role="admin", sha256=DIGEST)})
    ctx = fake_api_context(
        authenticator=authenticator,
        admin=AdminContext(store, audit, tmp_path, _no_use, _no_use, 0),
        workspace=WorkspaceContext.ready(engine, None, authenticator),  # type: ignore[arg-type]
    )
    with AsgiClient(create_api(ctx)) as client:
        yield App(client, audit, store, ctx)
    ctx.service.close()
    engine.dispose()


def _audit_lines(audit: AuditLog) -> list[dict[str, Any]]:
    return [json.loads(line) for line in audit.path.read_text().splitlines()]


def test_an_admin_creates_edits_and_disables_a_limit_as_the_api_would(app: App) -> None:
    page = app.get("/workspace/rules")
    assert page.status_code == 200 and 'id="rules-version">0<' in page.text
    assert 'href="/workspace/rules"' in page.text  # the nav shows admins the page
    made = app.post(
        {"op": "save_limit", "name": "big", "field": "amount", "max": "900", "text": "large"}
    )
    assert (made.status_code, made.headers["location"]) == (303, "/workspace/rules")
    edited = app.post(
        {"op": "save_limit", "name": "big", "field": "amount", "max": "500", "action": "decline"}
    )
    assert edited.status_code == 303
    stored = app.store.get()
    assert stored is not None and stored.version == 2 and stored.updated_by == "api_key:boss"
    assert stored.rules.limits == (Limit(name="big", field="amount", max=500, action="decline"),)
    # Applied in this replica at once, as after PUT /v1/rules.
    api = app.client.get("/v1/rules", headers={"X-API-Key": KEY}).json()
    assert api["version"] == api["applied_version"] == 2
    assert api["rules"]["limits"][0]["max"] == 500

    assert app.post({"op": "disable_limit", "name": "big"}).status_code == 303
    assert app.store.get().rules.limits == ()  # type: ignore[union-attr]

    # The API writes the same audit entry for the same document.
    put = app.client.request(
        "PUT",
        "/v1/rules",
        json={"limits": [{"name": "big", "field": "amount", "max": 500}]},
        headers={"X-API-Key": KEY},
    )
    assert put.status_code == 200
    page_entry, _, _, api_entry = _audit_lines(app.audit)
    assert page_entry["action"] == api_entry["action"] == "rule.changed"
    assert page_entry["actor"] == "api_key:boss" and api_entry["actor"] == f"api_key:{KID}"
    assert page_entry["target"] == "rules version 1" and api_entry["target"] == "rules version 4"
    assert set(page_entry["details"]) == set(api_entry["details"])
    assert app.audit.verify().ok


def test_list_entries_are_added_and_removed(app: App) -> None:
    form = {"list": "block", "kind": "terminals", "value": "T42"}
    assert app.post({"op": "add_entry", **form}).status_code == 303
    assert app.store.get().rules.block.terminals == {"T42"}  # type: ignore[union-attr]
    assert "T42" in app.get("/workspace/rules").text
    assert app.post({"op": "remove_entry", **form}).status_code == 303
    assert app.store.get().rules.block.terminals == frozenset()  # type: ignore[union-attr]


def test_validation_errors_name_the_field_and_change_nothing(app: App) -> None:
    for form, field in (
        ({"name": "Bad Name", "field": "amount", "max": "1"}, "name"),
        ({"name": "ok", "field": "amount", "max": "lots"}, "max"),
        ({"name": "ok", "field": "amount", "max": "1", "action": "approve"}, "action"),
        ({"name": "ok", "field": "amount", "max": "1", "text": "4111 1111 1111 1111"}, "text"),
    ):
        answer = app.post({"op": "save_limit", **form})
        assert answer.status_code == 422, form
        assert re.search(rf'class="field">{field}</strong>', answer.text), answer.text
        assert "4111 1111 1111 1111" not in answer.text
    stale = app.client.post(
        "/workspace/rules",
        data={"csrf": "csrf-boss", "version": "7", "op": "disable_limit", "name": "x"},
        headers={"cookie": "fl_ws_session=boss-cookie"},
    )
    assert stale.status_code == 409
    assert app.store.get() is None and not app.audit.path.exists()


def test_analysts_and_forms_without_csrf_are_refused(app: App) -> None:
    assert app.get("/workspace/rules", who="ana").status_code == 403
    assert 'href="/workspace/rules"' not in app.get("/workspace/overview", who="ana").text
    form = {"op": "save_limit", "name": "big", "field": "amount", "max": "1"}
    assert app.post(form, who="ana").status_code == 403
    assert app.post(form, csrf="").status_code == 403
    assert app.post(form, csrf="csrf-ana").status_code == 403  # another session's token
    nobody = app.client.get("/workspace/rules")
    assert (nobody.status_code, nobody.headers["location"]) == (303, "/workspace/sign-in")
    assert app.store.get() is None and not app.audit.path.exists()


def test_free_text_is_rendered_inert(app: App) -> None:
    made = app.post(
        {"op": "save_limit", "name": "inj", "field": SCRIPT, "max": "1", "text": SCRIPT}
    )
    assert made.status_code == 303
    assert app.post({"op": "add_entry", "list": "allow", "kind": "merchants", "value": SCRIPT})
    page = app.get("/workspace/rules")
    assert "<script" not in page.text
    assert page.text.count("&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;") >= 3
    refilled = app.post({"op": "save_limit", "name": "inj", "field": "amount", "max": SCRIPT})
    assert refilled.status_code == 422 and "<script" not in refilled.text


def test_edits_validate_like_the_api() -> None:
    rules = with_limit(Rules(), {"name": "a", "field": "amount", "max": "5"})
    assert with_limit(rules, {"name": "a", "field": "amount", "max": "7"}).limits[0].max == 7
    assert without_limit(rules, "a").limits == ()
    with pytest.raises(ValidationError) as err:
        without_limit(rules, "b")
    assert err.value.field == "name"
    with pytest.raises(ValidationError) as err:
        with_limit(rules, {"name": "b", "field": "amount", "max": "nan"})
    assert err.value.field == "max"
    with pytest.raises(ValidationError) as err:
        with_list_entry(rules, {"list": "deny", "kind": "cards", "value": "x"}, add=True)
    assert err.value.field == "list"
    with pytest.raises(ValidationError) as err:
        with_list_entry(rules, {"list": "block", "kind": "cards", "value": "x"}, add=False)
    assert err.value.field == "value"


class BrokenAudit(AuditLog):
    def append(self, *args: Any, **kwargs: Any) -> Any:
        raise OSError("disk full")


def test_a_change_that_cannot_be_audited_says_so_on_the_page_and_in_the_api(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(
        "fraudlens.workspace.web.kit.load_session", lambda _engine, cookie: SESSIONS.get(cookie)
    )
    store = FileRuleStore(tmp_path / "rules.json")
    engine = create_engine("postgresql+psycopg://nobody@127.0.0.1:1/none")  # never connected
    authenticator = Authenticator({KID: ApiKeyEntry(role="admin", sha256=DIGEST)})
    ctx = fake_api_context(
        authenticator=authenticator,
        admin=AdminContext(store, BrokenAudit(tmp_path / "a"), tmp_path, _no_use, _no_use, 0),
        workspace=WorkspaceContext.ready(engine, None, authenticator),  # type: ignore[arg-type]
    )
    with AsgiClient(create_api(ctx)) as client:
        page = client.post(
            "/workspace/rules",
            data={
                "csrf": "csrf-boss",
                "version": "0",
                "op": "save_limit",
                "name": "a",
                "field": "amount",
                "max": "1",
            },
            headers={"cookie": "fl_ws_session=boss-cookie"},
        )
        assert page.status_code == 503
        assert "rules stored as version 1, but the audit log cannot be written" in page.text
        put = client.request("PUT", "/v1/rules", json={}, headers={"X-API-Key": KEY})
        assert put.status_code == 503 and put.json()["error"] == "audit_unavailable"
        assert "rules stored as version 2" in put.json()["message"]
    ctx.service.close()
    engine.dispose()
