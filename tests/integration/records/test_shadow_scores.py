"""Shadow scores through Kafka into PostgreSQL: no file on the scoring pod, one row per
transaction and challenger version, erased and pruned with the other records (issue 13)."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from fake_api import fake_service
from sqlalchemy import Engine
from transactions import START, make_txn

from fraudlens.records.privacy import erase_subject, prune, subject_rows
from fraudlens.records.shadow import read_shadow_scores
from fraudlens.records.sink import run_decision_sink
from fraudlens.scoring import InProcessShadow, read_shadow
from fraudlens.scoring.factory import shadow_scorer
from fraudlens.scoring.fakes import FakeFeatures, FakeLoader, FakeModel
from fraudlens.settings import KafkaSettings, Settings

pytestmark = pytest.mark.integration
N = 120
SESSION = {"session.timeout.ms": 3000, "heartbeat.interval.ms": 500}


def _score_in_shadow(settings: Settings, txn_ids: list[str]) -> None:
    """Score the transactions with champion 1, challenger 2 in shadow, as a scoring replica."""
    challenger = FakeModel("2", bias=-3.0)
    loader = FakeLoader([FakeModel("1"), challenger], {"champion": "1", "challenger": "2"})
    scorer = shadow_scorer(settings, loader, FakeFeatures({}))
    assert scorer.load() is not None
    shadow = InProcessShadow(scorer)
    service = fake_service(models=[challenger], shadow=shadow)
    txns = [make_txn(i, transaction_id=tid) for i, tid in enumerate(txn_ids)]
    for start in range(0, len(txns), 20):  # a few batches: the shadow's queue drops none
        service.score(txns[start : start + 20])
    shadow.drain()
    assert shadow.dropped == 0
    service.close()  # waits for the broker's acknowledgements


def test_shadow_scores_reach_postgresql_once_without_files(
    kafka_settings: KafkaSettings, records_url: str, records_engine: Engine, tmp_path: Path
) -> None:
    settings = Settings(
        data_dir=tmp_path,
        kafka=kafka_settings,
        records={"database_url": records_url, "decision_sink": "kafka"},
    )
    ids = [f"tx-shadow-{i:04d}" for i in range(N)]
    _score_in_shadow(settings, ids)
    _score_in_shadow(settings, ids[: N // 2])  # redelivered to another replica: same rows
    assert not (tmp_path / "shadow").exists()  # nothing on the pod's disk

    stats = run_decision_sink(settings, idle_timeout=3.0, consumer_config=SESSION)
    assert (stats.shadow_inserted, stats.shadow_already_stored) == (N, N // 2)
    assert stats.dead_lettered == 0
    frame = read_shadow(settings)  # from PostgreSQL: scoring writes no shadow files
    frame = frame[frame["transaction_id"].str.startswith("tx-shadow-")]
    assert sorted(frame["transaction_id"]) == ids
    assert set(frame["champion_version"]) == {"1"} and set(frame["challenger_version"]) == {"2"}
    assert (frame["challenger_score"] > frame["champion_score"]).all()
    assert (frame["agree"] == (frame["champion_decision"] == frame["challenger_decision"])).all()

    # Erasure and retention reach the shadow scores like the other records.
    with records_engine.begin() as conn:
        deleted = erase_subject(conn, [], ids[:3])
        assert deleted["shadow_scores"] == 3 and subject_rows(conn, [], ids[:3]) == 0
        cutoff = START + timedelta(minutes=10)  # make_txn(i) is START + i minutes
        assert prune(conn, "shadow_scores", cutoff) == 10 - 3
        left = read_shadow_scores(conn, end=cutoff + timedelta(minutes=N))
        assert set(left["transaction_id"]) >= set(ids[10:])
        assert not set(left["transaction_id"]) & set(ids[:10])
