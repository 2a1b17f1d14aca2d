"""Run by test_serving_cold_start.py in a fresh process: a replica's start on a cold store.

Does what a Serve replica does before it is routed to (build the service,
load the model, warm up: ``ScoringIngress.reconfigure``), then sends the
first requests through the real FastAPI app at once, with the production
read budget. Prints one JSON line: the warm-up status and every answer's
``degraded`` / ``degraded_cause``.

Usage: python cold_replica.py SETTINGS_JSON BODIES_JSON
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from pathlib import Path
from typing import Any

import httpx

from fraudlens.schema import TRANSACTION_FIELDS
from fraudlens.scoring.factory import build_service, default_config
from fraudlens.security.tokenize import tokenizer_from_settings
from fraudlens.settings import Settings
from ray_apps.api import ApiContext, create_api


async def first_answers(settings: Settings, bodies: list[dict[str, Any]]) -> dict[str, Any]:
    service = build_service(settings, "api")
    service.apply_config(default_config(settings))
    started = time.perf_counter()
    status = service.warm_up()
    warm_up_ms = (time.perf_counter() - started) * 1000
    app = create_api(ApiContext(service, tokenizer_from_settings(settings), settings.validation))
    answers = []
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://replica") as client:
        ready = (await client.get("/readyz")).json()
        for body in bodies:
            response = await client.post(
                "/v1/score", json={k: v for k, v in body.items() if k in TRANSACTION_FIELDS}
            )
            data = response.json()
            answers.append(
                {
                    "status": response.status_code,
                    "degraded": data.get("degraded"),
                    "degraded_cause": data.get("degraded_cause"),
                }
            )
    service.close()
    return {"warm_up": status, "warm_up_ms": warm_up_ms, "readyz": ready, "answers": answers}


def main() -> None:
    settings = Settings(**json.loads(Path(sys.argv[1]).read_text()))
    bodies = json.loads(Path(sys.argv[2]).read_text())
    print("RESULT " + json.dumps(asyncio.run(first_answers(settings, bodies))), flush=True)


if __name__ == "__main__":
    main()
