"""Where shadow scores go: the decision sink setting picks files, the topic or both."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from fake_api import fake_service
from transactions import START, make_txn

from fraudlens.scoring import InProcessShadow, ParquetLog, ShadowScorer, read_shadow
from fraudlens.scoring.factory import shadow_scorer
from fraudlens.scoring.fakes import FakeFeatures, FakeLoader, FakeModel
from fraudlens.scoring.shadow_topic import FanOutLog, KafkaShadowLog
from fraudlens.settings import Settings


def loader() -> FakeLoader:
    return FakeLoader(
        [FakeModel("1"), FakeModel("2", bias=-3.0)], {"champion": "1", "challenger": "2"}
    )


@pytest.mark.parametrize(
    ("choice", "kinds"),
    [
        ("parquet", [ParquetLog]),
        ("kafka", [KafkaShadowLog]),  # production: no file on the scoring pod
        ("both", [ParquetLog, KafkaShadowLog]),
    ],
)
def test_shadow_scores_go_where_decisions_go(
    tmp_path: Path, choice: str, kinds: list[type[Any]]
) -> None:
    settings = Settings(
        data_dir=tmp_path,
        kafka={"bootstrap_servers": "127.0.0.1:9"},  # never reached: nothing is sent
        records={"decision_sink": choice},
    )
    scorer = shadow_scorer(settings, loader(), FakeFeatures({}))
    log = scorer.log
    logs = log.logs if isinstance(log, FanOutLog) else [log]
    assert [type(one) for one in logs] == kinds
    scorer.close()
    assert not (tmp_path / "shadow").exists()


class BrokenLog:
    """A shadow log whose broker is down."""

    def append(self, rows: list[dict[str, Any]]) -> None:
        raise OSError("broker down")

    def flush(self) -> int:
        return 0

    def close(self) -> None:
        pass


def test_a_log_that_fails_is_counted_and_the_shadow_keeps_going() -> None:
    models = loader()
    scorer = ShadowScorer(models, FakeFeatures({}), BrokenLog())
    scorer.load()
    shadow = InProcessShadow(scorer)
    service = fake_service(models=[FakeModel("2", bias=-3.0)], shadow=shadow)
    for i in range(3):
        service.score([make_txn(i)])
    shadow.drain()
    # Each batch was scored (the thread survived the failures), none recorded.
    assert scorer.stats["rows"] == 3 and scorer.stats["errors"] == 3
    service.close()


def test_read_shadow_reads_the_shadow_log_of_an_embedded_setup(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path, records={"decision_sink": "parquet"})
    models = loader()
    scorer = shadow_scorer(settings, models, FakeFeatures({}))
    scorer.load()
    shadow = InProcessShadow(scorer)
    service = fake_service(models=[FakeModel("2", bias=-3.0)], shadow=shadow)
    service.score([make_txn(i) for i in range(6)])  # t0..t5, a minute apart
    service.close()
    frame = read_shadow(settings, START + timedelta(minutes=2), START + timedelta(minutes=5))
    assert list(frame["transaction_id"]) == ["t2", "t3", "t4"]
    assert set(frame["challenger_version"]) == {"2"}
    assert len(read_shadow(settings)) == 6
