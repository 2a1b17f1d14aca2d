from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from asgi_client import AsgiClient
from fake_api import fake_api_context

from fraudlens.scoring.scorer import DEGRADED_CAUSES
from fraudlens.settings_doc import render
from ray_apps.api import create_api

ROOT = Path(__file__).parents[2]


def test_configuration_doc_is_current() -> None:
    committed = (ROOT / "docs" / "configuration.md").read_text()
    assert committed == render(), "run: python -m fraudlens.settings_doc > docs/configuration.md"


def test_readme_has_exactly_two_commands() -> None:
    readme = (ROOT / "README.md").read_text()
    block = readme.split("## Two commands", 1)[1].split("```", 2)[1]
    commands = [line.split("#")[0].strip() for line in block.splitlines()[1:] if line.strip()]
    assert commands == ["make demo", "make test"]


def _readme_score_call() -> tuple[str, dict[str, Any]]:
    readme = (ROOT / "README.md").read_text()
    section = readme.split("## Score one transaction", 1)[1]
    command = section.split("```bash", 1)[1].split("```", 1)[0]
    path = re.search(r"localhost:8000(/\S+)", command)
    body = re.search(r"-d '(\{.*?\})'", command, re.S)
    assert path and body, "the README's score example lost its URL or body"
    return path.group(1), json.loads(body.group(1))


def test_readme_score_example_is_a_valid_call() -> None:
    """The copy-paste curl of the README is answered 200 by the real API app."""
    path, body = _readme_score_call()
    with AsgiClient(create_api(fake_api_context())) as client:
        response = client.post(path, json=body)
    assert response.status_code == 200, response.text
    answer = response.json()
    readme = (ROOT / "README.md").read_text()
    for field in ("decision", "score", "reasons", "model_version", "degraded", "degraded_cause"):
        assert field in answer and f"`{field}`" in readme
    for cause in DEGRADED_CAUSES:
        assert f"`{cause}`" in readme, f"README does not name the degraded cause {cause}"
