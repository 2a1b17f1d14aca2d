"""The demo's last step against a real broker: counts what it read, fails on a planted PAN."""

from __future__ import annotations

from collections.abc import Callable
from io import StringIO
from pathlib import Path

import pandas as pd
import pytest
from rich.console import Console

from fraudlens.demo.pan_scan import pan_scan_step
from fraudlens.demo.state import DemoState
from fraudlens.errors import DataError
from fraudlens.kafka import EventProducer
from fraudlens.settings import KafkaSettings, Settings

pytestmark = pytest.mark.integration


def _run(data_dir: Path, kafka: KafkaSettings) -> tuple[DemoState, str]:
    state = DemoState(settings=Settings(data_dir=data_dir, kafka=kafka), sim_dir=data_dir / "sim")
    out = StringIO()
    try:
        pan_scan_step(state, Console(file=out, width=200))
    finally:
        state.summary["console"] = out.getvalue()
    return state, out.getvalue()


def test_clean_outputs_pass_and_are_counted(tmp_path: Path, kafka_settings: KafkaSettings) -> None:
    (tmp_path / "sim").mkdir()
    pd.DataFrame({"card_token": ["tok_k1_" + "a" * 32], "amount": [12.5]}).to_parquet(
        tmp_path / "sim" / "transactions.parquet"
    )
    (tmp_path / "demo.log").write_text('{"message": "scored t-1 in 3 ms"}\n')
    with EventProducer(kafka_settings) as producer:
        producer.send(kafka_settings.transactions_topic, "t-1", b'{"amount": 12.5}')
        producer.flush()
    state, text = _run(tmp_path, kafka_settings)
    scanned = {(where, what): n for where, what, n in state.summary["pan_scan"]["scanned"]}
    assert scanned[("DATA_DIR", "Parquet files")] == 1 and scanned[("DATA_DIR", "log files")] == 1
    assert scanned[("Kafka", f"topic {kafka_settings.transactions_topic}")] == 1
    assert state.summary["pan_scan"]["findings"] == 0 and "no card number anywhere" in text


def test_a_planted_pan_fails_the_demo(
    pan_fixture_path: Callable[[str], Path], kafka_settings: KafkaSettings
) -> None:
    planted = pan_fixture_path("scoring.log")
    planted.write_text('{"message": "card 4111 1111 1111 1111 declined"}\n')
    with pytest.raises(DataError, match="1 card number"):
        _run(planted.parent, kafka_settings)
