"""Admins create, list and revoke API keys in the workspace; the API and the workspace accept
the new key at once and refuse it once revoked; every change is audited (issue 14)."""

from __future__ import annotations

import re

import httpx
import pytest
from sqlalchemy import select
from workspace_app import Workspace

from fraudlens.records.tables import api_keys, audit
from fraudlens.security.auth import hash_api_key

pytestmark = pytest.mark.integration
NEW_KEY = re.compile(r'<code id="new-key">(fl_[A-Za-z0-9]+_[A-Za-z0-9_-]{43})</code>')


def _signed_in(workspace: Workspace, key: str) -> tuple[httpx.Client, str]:
    """A client signed in with ``key`` and its session's CSRF token."""
    client = httpx.Client(base_url=workspace.url, timeout=10.0)
    form = client.get("/sign-in")
    login = re.search(r'name="csrf" value="([^"]+)"', form.text)
    assert login is not None
    answer = client.post("/sign-in", data={"csrf": login.group(1), "api_key": key})
    assert answer.status_code == 303, answer.text
    queue = client.get("/queue")
    csrf = re.search(r'name="csrf" value="([^"]+)"', queue.text)
    assert queue.status_code == 200 and csrf is not None
    return client, csrf.group(1)


def test_admin_creates_lists_and_revokes_a_key(workspace: Workspace) -> None:
    boss, csrf = _signed_in(workspace, workspace.keys["boss"])
    assert "No keys created here yet" in boss.get("/users").text
    assert boss.post("/users", data={"op": "create", "name": "Carol"}).status_code == 403

    bad = boss.post("/users", data={"csrf": csrf, "op": "create", "name": "<script>x</script>"})
    assert bad.status_code == 422 and 'class="field">name<' in bad.text
    assert "<script>" not in bad.text and "&lt;script&gt;" in bad.text

    made = boss.post(
        "/users", data={"csrf": csrf, "op": "create", "name": "Carol", "role": "analyst"}
    )
    found = NEW_KEY.search(made.text)
    assert made.status_code == 200 and found is not None
    key = found.group(1)
    key_id = key.split("_")[1]

    listed = boss.get("/users").text
    assert key not in listed and key[-43:] not in listed  # shown once, never listed
    assert "Carol" in listed and key_id in listed and "never" in listed
    with workspace.engine.connect() as conn:
        row = conn.execute(select(api_keys).where(api_keys.c.key_id == key_id)).mappings().one()
    assert row["sha256"] == hash_api_key(key) and key not in str(dict(row))

    # The new key works at once: the API and the workspace accept it.
    api = httpx.get(
        f"{workspace.url.removesuffix('/workspace')}/v1/model", headers={"X-API-Key": key}
    )
    assert api.status_code == 200
    carol, carol_csrf = _signed_in(workspace, key)
    assert "never" not in boss.get("/users").text  # last used is recorded
    assert carol.get("/users").status_code == 403  # an analyst
    refused = carol.post("/users", data={"csrf": carol_csrf, "op": "revoke", "key_id": key_id})
    assert refused.status_code == 403

    revoked = boss.post("/users", data={"csrf": csrf, "op": "revoke", "key_id": key_id})
    assert revoked.status_code == 303
    assert carol.get("/queue").headers.get("location") == "/workspace/sign-in"  # session ended
    api = httpx.get(
        f"{workspace.url.removesuffix('/workspace')}/v1/model", headers={"X-API-Key": key}
    )
    assert api.status_code == 401
    again = boss.post("/users", data={"csrf": csrf, "op": "revoke", "key_id": key_id})
    assert again.status_code == 404

    with workspace.engine.connect() as conn:
        entries = conn.execute(
            select(audit.c.actor, audit.c.action, audit.c.target).where(
                audit.c.action.like("api_key.%")
            )
        ).all()
    assert [tuple(e) for e in entries] == [
        ("api_key:boss", "api_key.created", f"api_key:{key_id}"),
        ("api_key:boss", "api_key.revoked", f"api_key:{key_id}"),
    ]
    assert workspace.audit.verify().ok
    boss.close()
    carol.close()
