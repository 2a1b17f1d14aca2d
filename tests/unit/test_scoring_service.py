"""The scoring service with fakes: scoring, degraded mode, model switches, logs, shadow."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from transactions import make_txn as txn

from fraudlens.errors import ModelError
from fraudlens.schema import Transaction
from fraudlens.scoring import (
    DecisionLog,
    InProcessShadow,
    ParquetLog,
    ScoringConfig,
    ScoringService,
    ShadowScorer,
    read_log,
)
from fraudlens.scoring.fakes import FakeFeatures, FakeLoader, FakeModel
from fraudlens.scoring.scorer import Scorer
from fraudlens.scoring.service import NotReadyError

CARD = "tok_demo_" + "b" * 32
RISKY = "tok_demo_" + "c" * 32


@pytest.fixture
def features() -> FakeFeatures:
    return FakeFeatures(
        {
            RISKY: {
                "card_tx_count_10m": 7.0,
                "card_amount_ratio_30d": 12.0,
                "card_new_terminal_30d": 1,
            }
        }
    )


@pytest.fixture
def loader() -> FakeLoader:
    return FakeLoader(
        [FakeModel("1"), FakeModel("2", bias=-3.0), FakeModel("3", fail=True)],
        {"champion": "1", "challenger": "2"},
    )


@pytest.fixture
def service(loader: FakeLoader, features: FakeFeatures) -> ScoringService:
    svc = ScoringService(loader, features, scorer=Scorer(features, feature_timeout_s=0.2))
    svc.apply_config(ScoringConfig())
    return svc


def test_not_ready_until_a_model_is_loaded(loader: FakeLoader, features: FakeFeatures) -> None:
    svc = ScoringService(loader, features)
    assert not svc.ready
    with pytest.raises(NotReadyError):
        svc.score([txn()])


def test_scores_and_explains_a_risky_transaction(service: ScoringService) -> None:
    safe, risky = service.score([txn(0), txn(1, card_token=RISKY)])
    assert safe.decision == "approve" and safe.reasons == [] and not safe.degraded
    assert risky.decision == "decline" and risky.score is not None and risky.score > 0.9
    texts = [r.text for r in risky.reasons]
    assert texts[0] == "7 transactions in the last 10 minutes"
    assert "amount 12.0x this card's usual" in texts
    assert risky.model_version == "1" and risky.features["card_tx_count_10m"] == 7.0


def test_degraded_when_the_store_is_down(service: ScoringService, features: FakeFeatures) -> None:
    features.down = True
    small, large = service.score([txn(0, card_token=RISKY), txn(1, amount=900.0)])
    assert small.degraded and large.degraded
    assert small.decision == "approve"  # history unknown: the model sees only request features
    assert any(r.code == "degraded" for r in small.reasons)
    assert np.isnan(small.features["card_tx_count_10m"])
    assert small.features["txn_amount"] == 40.0
    # The breaker skips the dead store for a while instead of waiting on it.
    calls = features.calls
    service.score([txn(2)])
    assert features.calls == calls


def test_degraded_when_the_store_is_slow(loader: FakeLoader, features: FakeFeatures) -> None:
    svc = ScoringService(loader, features, scorer=Scorer(features, feature_timeout_s=0.05))
    svc.apply_config(ScoringConfig())
    features.delay_s = 0.5
    (result,) = asyncio.run(svc.ascore([txn()]))
    assert result.degraded and result.latency_ms < 400


def test_degraded_without_model_score_falls_back_to_amount(
    loader: FakeLoader, features: FakeFeatures
) -> None:
    class NoNaN(FakeModel):
        def predict(self, df: Any) -> np.ndarray:
            if df.isna().any().any():
                raise ValueError("NaN input")
            return super().predict(df)

    loader.models["9"] = NoNaN("9")
    svc = ScoringService(loader, features, scorer=Scorer(features))
    svc.apply_config(ScoringConfig(model_version="9", degraded_review_amount=500))
    features.down = True
    small, large = svc.score([txn(0), txn(1, amount=900.0)])
    assert small.score is None and small.decision == "approve" and small.degraded
    assert large.decision == "review"


def test_thresholds_override_and_rules_from_config(service: ScoringService) -> None:
    service.apply_config(
        ScoringConfig.model_validate(
            {
                "thresholds": {"review": 0.0, "decline": 1.0},
                "rules": {"block": {"terminals": ["T9"]}},
            }
        )
    )
    ok, blocked = service.score([txn(0), txn(1, terminal_id="T9")])
    assert ok.decision == "review" and ok.thresholds == (0.0, 1.0)
    assert blocked.decision == "decline"
    assert blocked.reasons[0].text == "terminal T9 is on the block list"


def test_model_switch_and_refusal_keep_serving(service: ScoringService, loader: FakeLoader) -> None:
    loader.aliases["champion"] = "2"
    assert service.refresh_alias() is True
    assert service.score([txn()])[0].model_version == "2"
    # A broken version is refused at load; version 2 keeps serving.
    loader.aliases["champion"] = "3"
    assert service.refresh_alias() is False
    assert service.active.model.version == "2"
    assert service.last_refusal is not None and "3" in str(service.last_refusal)
    assert service.refresh_alias() is False  # not retried in a loop
    with pytest.raises(ModelError):
        service.apply_config(ScoringConfig(model_version="404"))
    assert service.score([txn()])[0].model_version == "2"
    # A pinned version ignores the alias.
    service.apply_config(ScoringConfig(model_version="1"))
    loader.aliases["champion"] = "2"
    assert service.refresh_alias() is False
    assert service.info()["model_version"] == "1"


def test_refuses_a_model_whose_features_the_store_lacks(
    service: ScoringService, loader: FakeLoader
) -> None:
    loader.models["5"] = FakeModel("5", weights={"not_a_feature": 1.0})
    with pytest.raises(ModelError, match="not served"):
        service.apply_config(ScoringConfig(model_version="5"))
    assert service.active.model.version == "1"


def test_decision_log_partitions_by_day(service: ScoringService, tmp_path: Path) -> None:
    log = DecisionLog(tmp_path / "decisions", "test", flush_s=60)
    service.decisions = log
    late = txn(0, event_time=datetime(2026, 6, 3, 23, 59, tzinfo=UTC))
    service.score([late, txn(1, event_time=datetime(2026, 6, 4, 0, 1, tzinfo=UTC))])
    service.score([txn(2, card_token=RISKY, event_time=datetime(2026, 6, 4, 1, 0, tzinfo=UTC))])
    service.close()
    days = sorted(p.name for p in (tmp_path / "decisions").iterdir())
    assert days == ["date=2026-06-03", "date=2026-06-04"]
    frame = read_log(tmp_path / "decisions")
    assert sorted(frame["transaction_id"]) == ["t0", "t1", "t2"]
    row = frame.set_index("transaction_id").loc["t2"]
    assert row["decision"] == "decline" and row["model_version"] == "1"
    assert row["f_card_tx_count_10m"] == 7.0 and "transactions" in row["reasons"]
    assert len(read_log(tmp_path / "decisions", "2026-06-04")) == 2


def test_shadow_scores_challenger_without_touching_answers(
    service: ScoringService, loader: FakeLoader, features: FakeFeatures, tmp_path: Path
) -> None:
    shadow_scorer = ShadowScorer(loader, features, ParquetLog(tmp_path / "shadow", "shadow"))
    assert shadow_scorer.load() is not None
    shadow = InProcessShadow(shadow_scorer)
    service.shadow = shadow
    results = service.score([txn(i) for i in range(5)])
    assert {r.model_version for r in results} == {"1"}
    shadow.drain()
    summary = shadow_scorer.summary()
    assert summary["challenger_version"] == "2" and summary["rows"] == 5
    service.close()
    log = read_log(tmp_path / "shadow")
    assert len(log) == 5 and set(log["challenger_version"]) == {"2"}
    assert (log["challenger_score"] > log["champion_score"]).all()


def test_broken_challenger_is_contained(
    loader: FakeLoader, features: FakeFeatures, service: ScoringService
) -> None:
    loader.aliases["challenger"] = "3"
    scorer = ShadowScorer(loader, features, None)
    scorer.load()
    shadow = InProcessShadow(scorer)
    service.shadow = shadow
    assert service.score([txn()])[0].decision == "approve"
    shadow.drain()
    assert scorer.summary()["errors"] == 1
    shadow.close()


def test_same_transaction_same_score_sync_and_async(service: ScoringService) -> None:
    batch = [txn(0, card_token=RISKY), txn(1)]
    sync = service.score(batch)
    asyn = asyncio.run(service.ascore(batch))
    assert [r.score for r in sync] == [r.score for r in asyn]
    assert [r.decision_id for r in sync] == [r.decision_id for r in asyn]
    one = service.score([replace_txn(batch[0])])[0]
    assert one.score == sync[0].score


def replace_txn(t: Transaction) -> Transaction:
    return Transaction(**t.model_dump())


def test_micro_batcher_merges_concurrent_requests(service: ScoringService) -> None:
    from fraudlens.scoring.batcher import MicroBatcher

    batcher = MicroBatcher(service, max_rows=8)
    batch = [txn(i, card_token=RISKY if i % 3 == 0 else CARD) for i in range(20)]

    async def run() -> list[list[Any]]:
        return await asyncio.gather(*(batcher.score([t]) for t in batch))

    results = asyncio.run(run())
    assert [r[0].transaction_id for r in results] == [t.transaction_id for t in batch]
    alone = service.score(batch)
    assert [r[0].score for r in results] == [r.score for r in alone]
    assert batcher.batches < len(batch)  # merged: 1 lone request, then batches of up to 8


def test_micro_batcher_passes_errors_to_every_caller(
    loader: FakeLoader, features: FakeFeatures
) -> None:
    from fraudlens.scoring.batcher import MicroBatcher

    batcher = MicroBatcher(ScoringService(loader, features))  # no model loaded

    async def run() -> list[Any]:
        return await asyncio.gather(
            *(batcher.score([txn(i)]) for i in range(3)), return_exceptions=True
        )

    assert all(isinstance(r, NotReadyError) for r in asyncio.run(run()))


def test_summary_counts_fraud_caught(service: ScoringService, tmp_path: Path) -> None:
    import pandas as pd

    from fraudlens.scoring.summary import summarize_decisions

    service.decisions = DecisionLog(tmp_path / "d", "test", flush_s=60)
    batch = [txn(0), txn(1, card_token=RISKY), txn(2)]
    service.score(batch)
    service.score(batch[1:2])  # a duplicate decision (at-least-once) is counted once
    service.close()
    labels = pd.DataFrame(
        {
            "transaction_id": ["t0", "t1", "t2"],
            "is_fraud": [False, True, True],
            "amount": [40.0] * 3,
        }
    )
    summary = summarize_decisions(read_log(tmp_path / "d"), labels)
    assert summary["decisions"] == 3 and summary["by_decision"] == {"approve": 2, "decline": 1}
    assert summary["fraud"]["caught"] == 1 and summary["fraud"]["recall"] == 0.5
    assert summary["top_reasons"]["card_tx_count_10m"] == 1
    assert summarize_decisions(pd.DataFrame()) == {"decisions": 0}


def test_degraded_answers_are_counted_by_cause_and_fail_a_healthy_run() -> None:
    from fraudlens.errors import FeatureStoreError
    from fraudlens.scoring.summary import degraded_by_cause, require_not_degraded

    healthy = [{"degraded": False, "degraded_cause": None}] * 3
    assert degraded_by_cause(healthy) == {}
    require_not_degraded(degraded_by_cause(healthy), "api")  # nothing to report
    answers = healthy + [
        {"degraded": True, "degraded_cause": "store_timeout"},
        {"degraded": True, "degraded_cause": "store_skipped"},
        {"degraded": True, "degraded_cause": "store_skipped"},
        {"degraded": True},
    ]
    counts = degraded_by_cause(answers)
    assert counts == {"store_skipped": 2, "store_timeout": 1, "unknown": 1}
    with pytest.raises(FeatureStoreError, match="api: 4 answers were degraded.*2 store skipped"):
        require_not_degraded(counts, "api")


def test_counting_works_on_the_service_answers(
    service: ScoringService, features: FakeFeatures
) -> None:
    from fraudlens.scoring.summary import degraded_by_cause

    features.down = True
    results = service.score([txn(0), txn(1)])
    answers = [{"degraded": r.degraded, "degraded_cause": r.degraded_cause} for r in results]
    assert degraded_by_cause(answers) == {"store_error": 2}


def test_serving_numerics_run_on_one_thread() -> None:
    # In a child: the limits last for the rest of the process.
    code = (
        "from threadpoolctl import threadpool_info\n"
        "from fraudlens.scoring.factory import single_threaded_numerics\n"
        "single_threaded_numerics()\n"
        "import torch\n"
        "blas = [p['num_threads'] for p in threadpool_info() if p['user_api'] == 'blas']\n"
        "print(blas, torch.get_num_threads())\n"
    )
    env = {k: v for k, v in os.environ.items() if not k.endswith("_NUM_THREADS")}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    blas, torch_threads = out.stdout.strip().rsplit(" ", 1)
    assert blas.strip("[]") and set(blas.strip("[]").split(", ")) == {"1"}
    assert torch_threads == "1"
