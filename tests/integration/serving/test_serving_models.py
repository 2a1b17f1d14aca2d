"""Model switches without failed requests, refusals, shadow scoring and the decision log."""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import httpx
import pytest
from api_client import http
from sqlalchemy import create_engine, text

from fraudlens.model import mlflow_client
from fraudlens.scoring import ScoringConfig, ThresholdOverride, read_log
from fraudlens.settings import Settings
from ray_apps.run import reconfigure_scoring

pytestmark = pytest.mark.integration


class Load:
    """Requests sent continuously from a few threads; every answer is counted."""

    def __init__(self, url: str, bodies: list[dict[str, Any]], threads: int = 4) -> None:
        self.url = url
        self.bodies = bodies
        self.statuses: Counter[int] = Counter()
        self.versions: Counter[str] = Counter()
        self.errors: list[str] = []
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._threads = [threading.Thread(target=self._run, args=(i,)) for i in range(threads)]

    def _run(self, offset: int) -> None:
        with httpx.Client(base_url=self.url, headers=http.headers, timeout=10) as client:
            i = offset
            while not self._stop.is_set():
                body = self.bodies[i % len(self.bodies)]
                i += len(self._threads)
                try:
                    response = client.post("/v1/score", json=body)
                except httpx.HTTPError as exc:
                    with self._lock:
                        self.errors.append(repr(exc))
                    continue
                with self._lock:
                    self.statuses[response.status_code] += 1
                    if response.status_code == 200:
                        self.versions[response.json()["model_version"]] += 1

    def __enter__(self) -> Load:
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(30)


def served_version(url: str) -> str:
    return str(http.get(f"{url}/v1/model", timeout=10).json()["model_version"])


def refusal(url: str) -> dict[str, str]:
    return http.get(f"{url}/v1/model", timeout=10).json()["last_refusal"] or {}


def wait_for(check: Callable[[], bool], timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached in time")
        time.sleep(0.2)


@contextmanager
def champion_alias(settings: Settings, version: str, restore: str) -> Iterator[None]:
    client = mlflow_client(settings)
    name = settings.mlflow.model_name
    client.set_registered_model_alias(name, "champion", version)
    try:
        yield
    finally:
        client.set_registered_model_alias(name, "champion", restore)


def test_alias_switch_and_refusal_without_failed_requests(
    serve_url: str, serving_settings: Settings, bodies: list[dict[str, Any]], models: Any
) -> None:
    assert served_version(serve_url) == models.champion
    with Load(serve_url, bodies[-50:]) as load:
        time.sleep(1.0)
        with champion_alias(serving_settings, models.challenger, models.champion):
            wait_for(lambda: served_version(serve_url) == models.challenger)
            time.sleep(1.0)
            # A version whose feature service the store lacks is refused at load.
            mlflow_client(serving_settings).set_registered_model_alias(
                serving_settings.mlflow.model_name, "champion", models.bad
            )
            wait_for(lambda: http.get(f"{serve_url}/v1/model").json()["last_refusal"] is not None)
            time.sleep(1.0)
            assert served_version(serve_url) == models.challenger
        wait_for(lambda: served_version(serve_url) == models.champion)
    refusal = http.get(f"{serve_url}/v1/model").json()["last_refusal"]
    assert "fraud_model_v999" in refusal["reason"]
    assert load.errors == [] and set(load.statuses) == {200}, (load.statuses, load.errors[:3])
    assert load.versions[models.champion] > 0 and load.versions[models.challenger] > 0


def test_the_registry_serving_reads_is_postgresql(
    serve_url: str, serving_settings: Settings, models: Any, mlflow_url: str
) -> None:
    """Production's MLflow backend store: the champion alias lives in PostgreSQL rows."""
    engine = create_engine(mlflow_url)
    with engine.connect() as conn:
        aliases = dict(
            conn.execute(
                text("SELECT alias, version FROM registered_model_aliases WHERE name = :name"),
                {"name": serving_settings.mlflow.model_name},
            ).all()
        )
    engine.dispose()
    assert serving_settings.mlflow.tracking_uri == mlflow_url
    assert aliases["champion"] == int(models.champion) == int(served_version(serve_url))


def test_user_config_switch_in_place(
    serve_url: str, serving_settings: Settings, bodies: list[dict[str, Any]], models: Any
) -> None:
    pinned = ScoringConfig(
        model_version=models.challenger,
        thresholds=ThresholdOverride(review=0.0, decline=1.0),
    )
    with Load(serve_url, bodies[-50:], threads=2) as load:
        reconfigure_scoring(serving_settings, pinned)
        wait_for(lambda: served_version(serve_url) == models.challenger)
        body = bodies[-1]
        answer = http.post(f"{serve_url}/v1/score", json=body, timeout=10).json()
        assert answer["decision"] == "review"  # review threshold 0: everything is reviewed
        # A pinned bad version is refused; the pinned challenger keeps serving.
        reconfigure_scoring(serving_settings, ScoringConfig(model_version=models.bad))
        wait_for(lambda: refusal(serve_url).get("target") == models.bad)
        assert served_version(serve_url) == models.challenger
        reconfigure_scoring(serving_settings, ScoringConfig())
        wait_for(lambda: served_version(serve_url) == models.champion)
    assert load.errors == [] and set(load.statuses) == {200}, (load.statuses, load.errors[:3])


def test_every_decision_is_logged_and_the_challenger_shadows(
    serve_url: str, serving_settings: Settings, bodies: list[dict[str, Any]], models: Any
) -> None:
    from ray import serve

    batch = bodies[-300:]  # over the log's chunk_rows (256): logged as one table
    assert len(batch) == 300
    response = http.post(f"{serve_url}/v1/score/batch", json={"transactions": batch}, timeout=30)
    assert response.status_code == 200, response.text
    ids = {b["transaction_id"] for b in batch}
    decisions = serving_settings.data_dir / "decisions"
    wait_for(lambda: ids <= set(read_log(decisions).get("transaction_id", [])), timeout=20)
    log = read_log(decisions)
    logged = log[log["transaction_id"].isin(ids)]
    assert len(logged) == len(ids)
    answers = {r["transaction_id"]: r for r in response.json()["results"]}
    # decision ids only: a transaction already scored by another test keeps its first decision
    for row in logged.itertuples():
        assert row.decision_id == answers[row.transaction_id]["decision_id"]
    row = logged.iloc[0]
    assert row["model_version"] == models.champion and 0 <= row["score"] <= 1
    assert "f_card_tx_count_10m" in log.columns
    shadow = serve.get_deployment_handle("shadow", app_name="fraudlens")

    def shadowed() -> bool:
        shadow.flush.remote().result()
        frame = read_log(serving_settings.data_dir / "shadow")
        return not frame.empty and ids <= set(frame["transaction_id"])

    wait_for(shadowed, timeout=20)
    summary = shadow.summary.remote().result()
    assert summary["challenger_version"] == models.challenger and summary["rows"] >= len(ids)
