"""The demo's drift step: its timeline shows "-" where a day has no value, never "nan";
its settings are the scenario test's."""

from __future__ import annotations

import io
import math
import re
from pathlib import Path

from rich.console import Console

from drift.scenario import DayRow, scenario_settings
from fraudlens.demo.drift import timeline_table
from fraudlens.settings import Settings


def test_days_without_a_value_show_a_dash() -> None:
    rows = [
        DayRow(30, "no_drift", math.nan, [], math.nan, math.nan, "1"),
        DayRow(
            41,
            "drift",
            3.2e-7,
            ["amount_vs_card_avg", "tx_count_1d", "term_count_7d"],
            0.4123,
            0.5012,
            "1",
            "retrain (drift) -> v2 promoted",
        ),
    ]
    out = io.StringIO()
    Console(file=out, width=200).print(timeline_table(rows))
    text = out.getvalue()
    assert "nan" not in text.lower()
    lines = [re.split(r"\s{2,}", line.strip()) for line in text.splitlines()]
    assert ["30", "no_drift", "-", "-", "-", "-", "v1"] in lines
    assert [
        "41",
        "drift",
        "3.2e-07",
        "0.4123",
        "0.5012",
        "amount_vs_card_avg +2",
        "v1",
        "retrain (drift) -> v2 promoted",
    ] in lines


def test_scenario_settings_have_their_own_folder_and_model(tmp_path: Path) -> None:
    # one definition for the demo's step 6 and the scenario test
    base = Settings(data_dir=tmp_path)
    settings = scenario_settings(base)
    assert settings.data_dir == tmp_path / "drift-scenario"
    assert settings.mlflow.model_name == base.mlflow.model_name + "-drift-demo"
    assert settings.drift.launcher == "ray_task" and settings.training.label_delay_days == 5
