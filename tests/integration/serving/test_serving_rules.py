"""Live rules and roles on the real Serve app: a fraud team changes rules without a redeploy."""

from __future__ import annotations

import time
from typing import Any

import httpx
from api_client import SCORER_KEY, http

from fraudlens.security.audit import verify_audit_log
from fraudlens.settings import Settings


def _score(url: str, body: dict[str, Any]) -> dict[str, Any]:
    response = http.post(f"{url}/v1/score", json=body)
    assert response.status_code == 200, response.text
    answer: dict[str, Any] = response.json()
    return answer


def test_credentials_and_roles_are_enforced(serve_url: str, bodies: list[dict[str, Any]]) -> None:
    anonymous = httpx.post(f"{serve_url}/v1/score", json=bodies[-1], timeout=10)
    assert anonymous.status_code == 401
    scorer = {"X-API-Key": SCORER_KEY}
    assert httpx.post(f"{serve_url}/v1/score", json=bodies[-1], headers=scorer).status_code == 200
    assert httpx.get(f"{serve_url}/v1/rules", headers=scorer).status_code == 403
    assert httpx.put(f"{serve_url}/v1/rules", json={}, headers=scorer).status_code == 403


def test_blocking_a_card_takes_effect_on_the_running_app(
    serve_url: str, serving_settings: Settings, bodies: list[dict[str, Any]]
) -> None:
    body = bodies[-1]
    before = http.get(f"{serve_url}/v1/rules").json()
    assert "block_card" not in {r["code"] for r in _score(serve_url, body)["reasons"]}

    rules = {"block": {"cards": [body["card_token"]]}}
    stored = http.put(f"{serve_url}/v1/rules", json=rules)
    assert stored.status_code == 200, stored.text
    try:
        deadline = time.monotonic() + 30
        answer = _score(serve_url, body)
        while "block_card" not in {r["code"] for r in answer["reasons"]}:
            assert time.monotonic() < deadline, f"block list not applied: {answer}"
            time.sleep(0.25)
            answer = _score(serve_url, body)
        assert answer["decision"] == "decline"
        bad = http.put(f"{serve_url}/v1/rules", json={"limits": [{"name": "x", "max": 1}]})
        assert bad.status_code == 422 and "limits.0.field" in bad.text, bad.text
    finally:
        restored = http.put(f"{serve_url}/v1/rules", json=before["rules"])
        assert restored.status_code == 200, restored.text

    deadline = time.monotonic() + 30
    while "block_card" in {r["code"] for r in _score(serve_url, body)["reasons"]}:
        assert time.monotonic() < deadline, "rules not restored"
        time.sleep(0.25)
    verified = verify_audit_log(serving_settings)
    assert verified.ok and verified.entries >= 2
