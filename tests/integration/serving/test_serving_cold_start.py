"""A replica started on a cold store answers its first requests in full (issue #12).

The first online read of a fresh process pays for the Feast registry, the
connections and the on-demand views (about 113 ms measured on SQLite, over
the 100 ms budget): before the warm-up it made a replica answer degraded
right after it said ready. The replica runs in a fresh process (see
cold_replica.py) with the production budget, ``serve.feature_timeout_ms`` 100.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from fraudlens.scoring.summary import degraded_by_cause
from fraudlens.settings import Settings
from ray_apps.app import settings_overrides

pytestmark = pytest.mark.integration

FIRST = 30  # requests right after ready


def test_cold_replica_answers_its_first_requests_in_full(
    serving_settings: Settings, models: Any, bodies: list[dict[str, Any]], tmp_path: Path
) -> None:
    production_budget = serving_settings.serve.model_copy(update={"feature_timeout_ms": 100.0})
    settings = serving_settings.model_copy(update={"serve": production_budget})
    settings_file = tmp_path / "settings.json"
    settings_file.write_text(json.dumps(settings_overrides(settings)))
    bodies_file = tmp_path / "bodies.json"
    bodies_file.write_text(json.dumps(bodies[-FIRST:]))
    script = Path(__file__).with_name("cold_replica.py")
    out = subprocess.run(
        [sys.executable, str(script), str(settings_file), str(bodies_file)],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    lines = [line for line in out.stdout.splitlines() if line.startswith("RESULT ")]
    assert out.returncode == 0 and lines, out.stderr[-3000:]
    result = json.loads(lines[-1].removeprefix("RESULT "))
    assert result["warm_up"] == "ok"
    assert result["readyz"]["features"] == "ok"
    answers = result["answers"]
    assert len(answers) == FIRST and all(a["status"] == 200 for a in answers)
    assert degraded_by_cause(answers) == {}, f"warm-up {result['warm_up_ms']:.0f} ms: {answers}"
