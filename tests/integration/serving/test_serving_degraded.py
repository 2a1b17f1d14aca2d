"""Degraded mode: the online store stops, the API still answers (never a 5xx),
and answers in full again once the store is back."""

from __future__ import annotations

import time
from typing import Any

import pytest
from api_client import http
from online_store import OnlineStoreSwitch

from fraudlens.settings import Settings

pytestmark = pytest.mark.integration


def test_online_store_down_gives_degraded_answers(
    serve_url: str,
    serving_settings: Settings,
    bodies: list[dict[str, Any]],
    online_store_switch: OnlineStoreSwitch,
) -> None:
    body = bodies[-3]
    healthy = http.post(f"{serve_url}/v1/score", json=body, timeout=10).json()
    assert healthy["degraded"] is False
    online_store_switch.stop()
    budget = serving_settings.serve.feature_timeout_ms / 1000
    for _ in range(5):
        started = time.monotonic()
        response = http.post(f"{serve_url}/v1/score", json=body, timeout=10)
        elapsed = time.monotonic() - started
        assert response.status_code == 200, response.text
        data = response.json()
        assert data["degraded"] is True and elapsed < budget + 1.0
        assert "degraded" in [reason["code"] for reason in data["reasons"]]
        assert data["decision_id"] == healthy["decision_id"]
    batch = http.post(
        f"{serve_url}/v1/score/batch", json={"transactions": bodies[-20:]}, timeout=10
    )
    assert batch.status_code == 200 and batch.json()["degraded"] is True
    # The store is not needed to tell a client its request is wrong.
    bad = http.post(f"{serve_url}/v1/score", json=body | {"amount": -1}, timeout=10)
    assert bad.status_code == 422 and bad.json()["field"] == "amount"
    assert http.get(f"{serve_url}/readyz", timeout=10).status_code == 200

    online_store_switch.restart()
    # Every replica answers in full again once its breaker closes (2 s).
    deadline = time.monotonic() + 30
    while True:
        flags = [
            http.post(f"{serve_url}/v1/score", json=body, timeout=10).json()["degraded"]
            for _ in range(8)  # spread over the replicas
        ]
        if not any(flags) or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    assert not any(flags), f"still degraded 30 s after the store came back: {flags}"
