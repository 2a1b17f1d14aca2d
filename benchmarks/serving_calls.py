"""Figures of the scoring API that ``wrk`` does not give: server-side latency and batch calls.

- ``server_side``: one ``/v1/score`` call at a time (concurrency 1); the p50
  and p99 of the ``latency_ms`` the API itself reports (from the parsed
  request to the built response, in the replica), beside the client's.
- ``batch_calls``: ``/v1/score/batch`` with ``BATCH_ROWS`` transactions per
  call, one call at a time; transactions/s over the calls.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np

BATCH_ROWS = 1000


def _percentiles(samples: list[float]) -> tuple[float, float]:
    p50, p99 = np.percentile(np.asarray(samples), [50, 99])
    return round(float(p50), 3), round(float(p99), 3)


def server_side(url: str, bodies: list[str], calls: int = 300) -> dict[str, Any]:
    """``calls`` one-transaction calls in turn; server-side and client p50/p99 in ms."""
    import httpx

    headers = {"content-type": "application/json"}
    server, client, degraded = [], [], 0
    with httpx.Client(base_url=url, timeout=10.0) as http:
        http.post("/v1/score", content=bodies[0], headers=headers).raise_for_status()
        for i in range(calls):
            start = time.perf_counter()
            response = http.post("/v1/score", content=bodies[i % len(bodies)], headers=headers)
            client.append((time.perf_counter() - start) * 1000)
            response.raise_for_status()
            answer = response.json()
            server.append(answer["latency_ms"])
            degraded += bool(answer["degraded"])
    server_p50, server_p99 = _percentiles(server)
    client_p50, client_p99 = _percentiles(client)
    return {
        "calls": calls,
        "server_p50_ms": server_p50,
        "server_p99_ms": server_p99,
        "client_p50_ms": client_p50,
        "client_p99_ms": client_p99,
        "degraded": degraded,
    }


def batch_calls(url: str, bodies: list[str], calls: int = 5) -> dict[str, Any]:
    """``calls`` calls of ``BATCH_ROWS`` transactions in turn (after one warm-up call)."""
    import httpx

    rows = (bodies * (BATCH_ROWS // len(bodies) + 1))[:BATCH_ROWS]
    content = '{"transactions": [' + ",".join(rows) + "]}"
    headers = {"content-type": "application/json"}
    seconds, degraded = [], 0
    with httpx.Client(base_url=url, timeout=120.0) as http:
        http.post("/v1/score/batch", content=content, headers=headers).raise_for_status()
        for _ in range(calls):
            start = time.perf_counter()
            response = http.post("/v1/score/batch", content=content, headers=headers)
            seconds.append(time.perf_counter() - start)
            response.raise_for_status()
            degraded += sum(bool(r["degraded"]) for r in response.json()["results"])
    return {
        "batch": BATCH_ROWS,
        "calls": calls,
        "tx_per_s": round(BATCH_ROWS * calls / sum(seconds), 1),
        "call_p50_ms": round(float(np.median(seconds)) * 1000, 1),
        "degraded": degraded,
    }


def print_calls(name: str, single: dict[str, Any], batch: dict[str, Any]) -> None:
    """One line for each measurement."""
    print(
        f"{name:>12}  c=1   server-side p50 {single['server_p50_ms']:.2f} ms "
        f"p99 {single['server_p99_ms']:.2f} ms (client p50 {single['client_p50_ms']:.2f} ms, "
        f"{single['calls']} calls, degraded {single['degraded']})",
        flush=True,
    )
    print(
        f"{name:>12}  /v1/score/batch of {batch['batch']}: {batch['tx_per_s']:,.0f} tx/s "
        f"(call p50 {batch['call_p50_ms']:.0f} ms, {batch['calls']} calls, "
        f"degraded {batch['degraded']})",
        flush=True,
    )
