"""The demo's drift timeline shows "-" where a day has no value, never "nan"."""

from __future__ import annotations

import io
import math
import re

from rich.console import Console

from drift.scenario import DayRow
from fraudlens.demo.drift import timeline_table


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
