"""The demo's training step says which source its training frame came from."""

from __future__ import annotations

from io import StringIO
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pandas as pd
import pytest
from rich.console import Console

import training
from fraudlens.demo.models import train_step
from fraudlens.demo.state import DemoState
from fraudlens.settings import Settings
from training.evaluate import Evaluation
from training.promote import GateDecision


def test_train_step_prints_the_frame_source_rows_and_time(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    times = pd.date_range("2026-06-01", periods=3, freq="D", tz="UTC")
    (tmp_path / "sim").mkdir()
    pd.DataFrame({"event_time": times}).to_parquet(tmp_path / "sim" / "transactions.parquet")
    seen: dict[str, Any] = {}

    def fake_train(settings: Settings, start: object, end: object) -> SimpleNamespace:
        seen["source"] = settings.training.features_source
        test = Evaluation({"ap": 0.5}, pd.DataFrame())
        return SimpleNamespace(
            version="3",
            run_id="r1",
            test=test,
            seconds={"data": 42.4},
            data_source=settings.training.features_source,
            data_rows=235_753,
        )

    def fake_promote(settings: Settings, version: str) -> GateDecision:
        return GateDecision(version, None, True, [])

    monkeypatch.setattr(training, "train", fake_train)
    monkeypatch.setattr(training, "promote", fake_promote)
    out = StringIO()
    state = DemoState(settings=Settings(data_dir=tmp_path), sim_dir=tmp_path / "sim")
    train_step(state, Console(file=out, width=200))

    text = out.getvalue()
    assert seen["source"] == "feast"  # the demo trains from Feast, as `fraudlens train` does
    assert "training frame: Feast historical features (DuckDB offline store)" in text
    assert "235,753 rows in 42 s" in text
    assert state.summary["model"]["training_source"] == "feast"
