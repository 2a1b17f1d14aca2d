"""The demo's serving step shows the decision log's summary as a table, not raw JSON."""

from __future__ import annotations

import io
import re

import pandas as pd
from rich.console import Console

from fraudlens.demo.serving import decisions_table
from fraudlens.scoring.summary import summarize_decisions


def _render(summary: dict[str, object]) -> list[list[str]]:
    out = io.StringIO()
    Console(file=out, width=120).print(decisions_table(summary))
    text = out.getvalue()
    assert "{" not in text and '"' not in text  # no JSON
    return [re.split(r"\s*│\s*", line.strip("│ ")) for line in text.splitlines() if "│" in line]


def test_the_summary_is_a_table_of_figures() -> None:
    decisions = pd.DataFrame(
        {
            "decision_id": ["d1", "d2", "d3", "d4"],
            "transaction_id": ["t1", "t2", "t3", "t4"],
            "decision": ["approve", "review", "decline", "approve"],
            "degraded": [False, False, False, False],
            "latency_ms": [1.0, 2.0, 3.0, 4.0],
            "reasons": [
                "[]",
                '[{"code": "amount_vs_card_avg"}]',
                '[{"code": "rule:velocity"}]',
                "[]",
            ],
        }
    )
    transactions = pd.DataFrame(
        {
            "transaction_id": ["t1", "t2", "t3", "t4"],
            "is_fraud": [False, True, True, True],
            "amount": [10.0, 200.0, 300.0, 1000.5],
        }
    )
    rows = _render(summarize_decisions(decisions, transactions))
    assert ["decisions", "4"] in rows
    assert ["approve", "2"] in rows and ["review", "1"] in rows and ["decline", "1"] in rows
    assert ["degraded (scored without stored features)", "0"] in rows
    assert ["fraudulent transactions", "3"] in rows
    assert ["caught (review or decline)", "2 (66.7%)"] in rows
    assert ["amount caught", "500.00 of 1,500.50"] in rows
    assert ["legitimate ones flagged", "0"] in rows
    assert ["reason of flagged: amount_vs_card_avg", "1"] in rows


def test_an_empty_log_still_prints() -> None:
    assert ["decisions", "0"] in _render(summarize_decisions(pd.DataFrame()))
