"""A retraining job's promotion gate is audited like a promotion over the API."""

from __future__ import annotations

import importlib
import json
from datetime import date
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from drift import launchers
from drift.launchers import JOB_ACTOR, retrain_and_promote
from fraudlens.security.audit import audit_log_from_settings
from fraudlens.settings import Settings


@pytest.fixture
def settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Settings:
    def train(settings: Settings, start: date, end: date) -> Any:
        return SimpleNamespace(version="7")

    def promote(settings: Settings, version: str) -> Any:
        return SimpleNamespace(
            version=version, champion="6", promoted=version == "7", reasons=["AP 0.71 >= 0.70"]
        )

    # The modules, not the package's re-exported functions of the same names.
    monkeypatch.setattr(importlib.import_module("training.pipeline"), "train", train)
    monkeypatch.setattr(importlib.import_module("training.promote"), "promote", promote)
    return Settings(data_dir=tmp_path)


def _entries(settings: Settings) -> list[dict[str, Any]]:
    path = settings.data_dir / "audit" / "audit.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_the_gates_verdict_is_in_the_chain(settings: Settings) -> None:
    result = retrain_and_promote(settings, date(2026, 6, 1), date(2026, 7, 1))

    assert (result.outcome, result.version) == ("promoted", "7")
    [entry] = _entries(settings)
    assert (entry["actor"], entry["action"], entry["target"]) == (
        JOB_ACTOR,
        "model.promoted",
        "model version 7",
    )
    assert entry["details"]["previous_champion"] == "6"
    assert entry["details"]["trained_on"] == ["2026-06-01", "2026-07-01"]
    assert audit_log_from_settings(settings).verify().ok


def test_an_unaudited_verdict_is_said_in_the_result(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(settings: Settings) -> Any:
        raise OSError("audit volume is read-only")

    audit = importlib.import_module("fraudlens.security.audit")
    monkeypatch.setattr(audit, "audit_log_from_settings", broken)
    result = retrain_and_promote(settings, date(2026, 6, 1), date(2026, 7, 1))

    assert result.outcome == "promoted"  # the gate acted; the result says what is missing
    assert result.reasons[-1] == "not audited: OSError: audit volume is read-only"
    assert launchers.JOB_ACTOR == "job:retrain"
