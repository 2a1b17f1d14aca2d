"""The half-open breaker and the warm-up, with the fake feature store."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
from transactions import make_txn as txn

from fraudlens.scoring import ScoringConfig, ScoringService
from fraudlens.scoring.breaker import Breaker, Ticket
from fraudlens.scoring.fakes import FakeFeatures, FakeLoader, FakeModel
from fraudlens.scoring.scorer import STORE_ERROR, STORE_SKIPPED, STORE_TIMEOUT, Scorer

CARD = "tok_demo_" + "b" * 32


def service_over(features: FakeFeatures, timeout_s: float, breaker_s: float) -> ScoringService:
    loader = FakeLoader([FakeModel("1")], {"champion": "1"})
    scorer = Scorer(features, feature_timeout_s=timeout_s, breaker_s=breaker_s)
    svc = ScoringService(loader, features, scorer=scorer)
    svc.apply_config(ScoringConfig())
    return svc


def test_breaker_states() -> None:
    breaker = Breaker(open_s=0.05)
    assert breaker.acquire() is Ticket.READ
    assert breaker.failure(Ticket.READ, timeout=True) is False  # cold store: not an outage
    assert breaker.state == "closed"
    breaker.success(Ticket.READ)
    assert breaker.failure(Ticket.READ, timeout=True) is True
    assert breaker.acquire() is Ticket.SKIP
    time.sleep(0.06)
    assert breaker.acquire() is Ticket.PROBE
    assert breaker.state == "half-open" and breaker.acquire() is Ticket.SKIP
    breaker.failure(Ticket.PROBE, timeout=False)
    assert breaker.state == "open" and breaker.acquire() is Ticket.SKIP
    time.sleep(0.06)
    assert breaker.acquire() is Ticket.PROBE
    breaker.success(Ticket.PROBE)
    assert breaker.state == "closed" and breaker.acquire() is Ticket.READ


def test_slow_first_read_is_not_an_outage() -> None:
    features = FakeFeatures()
    features.cold_delay_s = 0.3
    svc = service_over(features, timeout_s=0.05, breaker_s=5.0)
    (first,) = svc.score([txn(0)])
    assert first.degraded and first.degraded_cause == STORE_TIMEOUT
    # The breaker stayed closed: the next request reads (and, the store now warm, in time).
    time.sleep(0.3)
    (second,) = svc.score([txn(1)])
    assert not second.degraded and features.calls == 2
    assert svc.scorer.breaker.warm


def test_warm_up_absorbs_the_cold_read() -> None:
    features = FakeFeatures()
    features.cold_delay_s = 0.2
    svc = service_over(features, timeout_s=0.05, breaker_s=5.0)
    assert not svc.warmed
    assert svc.warm_up(timeout_s=5.0) == "ok" and svc.warmed
    results = [svc.score([txn(i)])[0] for i in range(5)]
    assert not any(r.degraded for r in results)


def test_warm_up_with_the_store_down_is_ready_but_says_why() -> None:
    features = FakeFeatures()
    features.down = True
    svc = service_over(features, timeout_s=0.05, breaker_s=0.1)
    status = svc.warm_up(timeout_s=1.0)
    assert svc.warmed and status.startswith("degraded: FeatureStoreError")
    (result,) = svc.score([txn()])
    assert result.degraded and result.degraded_cause == STORE_SKIPPED


def test_failure_then_recovery_through_one_probe() -> None:
    features = FakeFeatures()
    svc = service_over(features, timeout_s=0.2, breaker_s=0.1)
    svc.warm_up()
    features.down = True
    (failed,) = svc.score([txn(0)])
    assert failed.degraded_cause == STORE_ERROR
    calls = features.calls
    (skipped,) = svc.score([txn(1)])
    assert skipped.degraded_cause == STORE_SKIPPED and features.calls == calls
    time.sleep(0.12)
    (probe,) = svc.score([txn(2)])  # the probe fails: open again
    assert probe.degraded_cause == STORE_ERROR and features.calls == calls + 1
    assert svc.scorer.breaker.state == "open"
    features.down = False
    time.sleep(0.12)
    (back,) = svc.score([txn(3)])
    assert not back.degraded and svc.scorer.breaker.state == "closed"


@pytest.mark.parametrize("probe_ok", [True, False])
def test_only_one_probe_in_flight(probe_ok: bool) -> None:
    features = FakeFeatures()
    svc = service_over(features, timeout_s=1.0, breaker_s=0.05)
    svc.warm_up()
    features.down = True
    svc.score([txn(0)])
    features.down = not probe_ok
    features.delay_s = 0.3  # the probe is slow: the others arrive while it runs
    time.sleep(0.06)
    calls = features.calls
    start = threading.Barrier(8)

    def one(i: int) -> str | None:
        start.wait()
        return svc.score([txn(i)])[0].degraded_cause

    with ThreadPoolExecutor(8) as pool:
        causes = list(pool.map(one, range(8)))
    assert features.calls == calls + 1
    assert causes.count(STORE_SKIPPED) == 7
    probe = [c for c in causes if c != STORE_SKIPPED]
    assert probe == ([None] if probe_ok else [STORE_ERROR])
    assert svc.scorer.breaker.state == ("closed" if probe_ok else "open")
