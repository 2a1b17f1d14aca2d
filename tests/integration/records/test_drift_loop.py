"""The retraining loop on PostgreSQL: state, jobs and outcomes survive a restarted monitor."""

from __future__ import annotations

import importlib
import time
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from local_ray import local_ray as local_ray_for
from ray.job_submission import JobStatus
from records_data import decision_records
from sqlalchemy import Engine, select
from typer.testing import CliRunner

from drift import job
from drift.launchers import (
    LOST_INLINE_JOB,
    InlineLauncher,
    JobResult,
    RayJobLauncher,
    RayTaskLauncher,
    store_result,
)
from drift.reference import Reference
from drift.report import DriftReport
from drift.sources import decisions_dir
from drift.synthetic import decision_rows, synthetic_rows
from drift.trigger import RetrainLoop
from fraudlens.cli import app
from fraudlens.records import upsert_decisions
from fraudlens.records.operations import read_retrain_job, start_retrain_job
from fraudlens.records.tables import drift_checks, retrain_jobs
from fraudlens.scoring.decision_log import FEATURE_PREFIX, ParquetLog
from fraudlens.settings import DriftSettings, Settings

pytestmark = pytest.mark.integration
T0 = datetime(2026, 7, 1, tzinfo=UTC)
COLUMNS = {"amount": "float64", "count_1d": "int64", "is_night": "int64", "km": "float64"}


class FakeJobClient:
    """Stands in for ``JobSubmissionClient``: submitted jobs, statuses set by the test."""

    def __init__(self) -> None:
        self.submitted: list[dict[str, Any]] = []
        self.status: dict[str, JobStatus] = {}

    def submit_job(
        self,
        *,
        entrypoint: str,
        submission_id: str | None = None,
        runtime_env: dict[str, Any] | None = None,
    ) -> str:
        assert submission_id is not None
        self.submitted.append({"entrypoint": entrypoint, "id": submission_id})
        self.status[submission_id] = JobStatus.RUNNING
        return submission_id

    def get_job_status(self, job_id: str) -> JobStatus:
        return self.status[job_id]


def _settings(tmp_path: Path, model: str, **drift: object) -> Settings:
    cfg: dict[str, object] = {"persistence": 1, "cooldown_hours": 24.0, "metrics_port": 0} | drift
    return Settings.model_validate(
        {
            "data_dir": tmp_path,
            "drift": DriftSettings.model_validate(cfg),
            "mlflow": {"model_name": model},
        }
    )


def _drift() -> DriftReport:
    return DriftReport(T0, "scipy", "6", None, None, 1000, 2000, "drift")


def test_restarted_monitor_knows_the_running_job_and_reads_its_outcome(
    tmp_path: Path, records_engine: Engine
) -> None:
    settings = _settings(tmp_path, "restart")
    client = FakeJobClient()
    first = RetrainLoop(
        settings, RayJobLauncher(settings, records_engine, client), records=records_engine
    )
    verdict = first.observe(_drift(), now=T0)
    job_id = verdict.launched
    assert job_id is not None and verdict.finished is None
    assert "drift.job" in client.submitted[0]["entrypoint"]
    with records_engine.connect() as conn:
        row = read_retrain_job(conn, job_id)
    assert row is not None and row["state"] == "running" and row["outcome"] is None

    # the monitor restarts: new loop, new launcher, same database and Ray cluster
    again = RetrainLoop(
        settings, RayJobLauncher(settings, records_engine, client), records=records_engine
    )
    assert again.state.running is not None and again.state.running["job_id"] == job_id
    assert again.observe(_drift(), now=T0 + timedelta(hours=1)).suppressed == "running"

    # the job (its own process) stores its outcome, then Ray says it ended
    store_result(records_engine, job_id, JobResult("promoted", "7", ["beats the champion"]))
    client.status[job_id] = JobStatus.SUCCEEDED
    third = RetrainLoop(
        settings, RayJobLauncher(settings, records_engine, client), records=records_engine
    )
    verdict = third.observe(now=T0 + timedelta(hours=2))
    assert verdict.finished == JobResult("promoted", "7", ["beats the champion"])
    assert third.state.running is None
    with records_engine.connect() as conn:
        row = read_retrain_job(conn, job_id)
    assert row is not None
    assert (row["state"], row["outcome"], row["model_version"]) == ("succeeded", "promoted", "7")
    assert row["finished_at"] is not None
    events = [e["event"] for e in third.state.history]
    assert events == ["launch", "suppressed", "outcome"]


class PassKilled(BaseException):
    """The scheduled pass's process dying mid-job (not an error the job could catch)."""


def test_a_pass_that_dies_during_its_inline_job_leaves_it_known_and_failed(
    tmp_path: Path, records_engine: Engine
) -> None:
    settings = _settings(tmp_path, "inline-death")

    def dies(_: Settings, start: date, end: date) -> JobResult:
        raise PassKilled  # e.g. the RayCronJob's deadline or an OOM kill

    with pytest.raises(PassKilled):
        RetrainLoop(settings, InlineLauncher(settings, dies), records=records_engine).observe(
            _drift(), now=T0
        )
    # The next pass is a new process: it knows the job, and that it never finished.
    again = RetrainLoop(settings, InlineLauncher(settings, dies), records=records_engine)
    assert again.state.running is not None
    job_id = again.state.running["job_id"]
    with records_engine.connect() as conn:
        row = read_retrain_job(conn, job_id)
    assert row is not None and row["state"] == "running"
    verdict = again.observe(now=T0 + timedelta(days=1))
    assert verdict.finished == JobResult("failed", None, [LOST_INLINE_JOB])
    assert again.state.running is None
    with records_engine.connect() as conn:
        row = read_retrain_job(conn, job_id)
    assert row is not None and (row["state"], row["outcome"]) == ("failed", "failed")
    assert [e["event"] for e in again.state.history] == ["launch", "outcome"]


def test_ray_job_that_ended_without_an_outcome_failed(
    tmp_path: Path, records_engine: Engine
) -> None:
    settings = _settings(tmp_path, "lost-job")
    client = FakeJobClient()
    launcher = RayJobLauncher(settings, records_engine, client)
    job_id = launcher.launch(date(2026, 6, 1), date(2026, 7, 1))
    assert launcher.poll(job_id) is None  # running
    client.status[job_id] = JobStatus.FAILED
    result = launcher.poll(job_id)
    assert result is not None and result.outcome == "failed"
    assert "ended FAILED without an outcome" in result.reasons[0]


def test_ray_job_entry_point_stores_its_result(
    records_url: str, records_engine: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FRAUDLENS_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("FRAUDLENS_RECORDS__DATABASE_URL", records_url)
    seen: list[tuple[date, date]] = []

    def body(_: Settings, start: date, end: date) -> JobResult:
        seen.append((start, end))
        return JobResult("refused", "9", ["does not beat the champion"])

    monkeypatch.setattr(job, "retrain_and_promote", body)
    args = ["--start", "2026-06-01", "--end", "2026-07-01", "--job-id", "entry-1"]
    assert job.main(args) == 0
    assert seen == [(date(2026, 6, 1), date(2026, 7, 1))]
    client = FakeJobClient()
    client.status["entry-1"] = JobStatus.SUCCEEDED
    result = RayJobLauncher(Settings(), records_engine, client).poll("entry-1")
    assert result == JobResult("refused", "9", ["does not beat the champion"])


@pytest.mark.parametrize("decisions_in", ["parquet", "postgres"])
def test_cycle_command_checks_retrains_and_records_both(
    decisions_in: str,
    records_url: str,
    records_engine: Engine,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The scheduled job's pass, on a laptop's Parquet log or (production: scoring
    writes no files) on the decisions the sink stored in PostgreSQL."""
    env = {
        "FRAUDLENS_DATA_DIR": str(tmp_path),
        "FRAUDLENS_RECORDS__DATABASE_URL": records_url,
        "FRAUDLENS_MLFLOW__MODEL_NAME": f"cycle-{decisions_in}",
        "FRAUDLENS_DRIFT__BACKEND": "scipy",
        "FRAUDLENS_DRIFT__MIN_WINDOW_ROWS": "200",
        "FRAUDLENS_DRIFT__MIN_WINDOW_DAYS": "0",
        "FRAUDLENS_DRIFT__WINDOW_DAYS": "2",
        "FRAUDLENS_DRIFT__MMD_SUBSAMPLE": "100",
        "FRAUDLENS_DRIFT__MMD_PERMUTATIONS": "30",
        "FRAUDLENS_DRIFT__ONLINE_ERT": "200",
        "FRAUDLENS_DRIFT__PERSISTENCE": "1",
        "FRAUDLENS_DRIFT__METRICS_PORT": "0",
        "FRAUDLENS_DRIFT__LAUNCHER": "inline",
    }
    if decisions_in == "postgres":
        env["FRAUDLENS_RECORDS__DECISION_SINK"] = "kafka"
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    settings = Settings()
    now = datetime.now(UTC)
    # PostgreSQL keeps scores, not features: there the score moves
    shift = {"km": 1.0} if decisions_in == "parquet" else {"score": 3.0}
    rows = decision_rows(
        synthetic_rows(800, seed=6, columns=COLUMNS, shift=shift),
        "5",
        pd.Timestamp(now - timedelta(hours=20)),
        seconds=3600,
    )
    if decisions_in == "parquet":
        log = ParquetLog(decisions_dir(settings), "api", flush_rows=10**9)
        log.append(rows.rename(columns={c: FEATURE_PREFIX + c for c in COLUMNS}).to_dict("records"))
        log.flush()
    else:
        rows["transaction_id"] = "cycle-" + rows["transaction_id"]
        with records_engine.begin() as conn:
            upsert_decisions(conn, decision_records(rows))
    reference = Reference("5", list(COLUMNS), synthetic_rows(1500, seed=11, columns=COLUMNS))
    monkeypatch.setattr("drift.monitor.load_reference", lambda _: reference)
    trained: list[tuple[date, date]] = []

    def body(_: Settings, start: date, end: date) -> JobResult:
        trained.append((start, end))
        return JobResult("promoted", "6", ["beats the champion"])

    # The module, not the attribute: drift/__init__ exports the function ``watch``
    # under the same name, and a dotted path would resolve to it.
    monkeypatch.setattr(
        importlib.import_module("drift.watch"),
        "make_launcher",
        lambda s, records=None: InlineLauncher(s, body),
    )
    result = CliRunner().invoke(app, ["drift", "cycle"])
    assert result.exit_code == 0, result.output
    assert "drift=drift" in result.output and "retraining ended: promoted" in result.output
    assert len(trained) == 1
    if decisions_in == "postgres":
        assert not decisions_dir(settings).exists()  # nothing read from, or written to, files
    with records_engine.connect() as conn:
        checks = conn.execute(select(drift_checks).where(drift_checks.c.model_version == "5"))
        jobs = conn.execute(
            select(retrain_jobs)
            .where(retrain_jobs.c.job_id.like("inline-%"), retrain_jobs.c.started_at >= now)
            .order_by(retrain_jobs.c.started_at)
        )
        check_rows, job_rows = checks.all(), jobs.all()
    mine = [c for c in check_rows if c.checked_at >= now]
    assert len(mine) == 1 and mine[0].drifted
    # the check's HTML page is in its row, not on the pod's disk; the CLI prints it
    page = mine[0].report_html
    assert page is not None and page.startswith("<!doctype html>") and "DRIFT" in page
    assert "html" not in mine[0].report and mine[0].report["html_path"] is None
    assert not (tmp_path / "reports").exists()
    said = " ".join(result.output.split())  # rich wraps long lines
    assert f"drift report --check-id {mine[0].check_id}" in said
    printed = CliRunner().invoke(app, ["drift", "report", "--check-id", mine[0].check_id])
    assert printed.exit_code == 0, printed.output
    assert printed.output == page
    unknown = CliRunner().invoke(app, ["drift", "report", "--check-id", "check-none"])
    assert unknown.exit_code == 1 and "no stored HTML report" in unknown.output
    # a one-off 'drift check' keeps its check and page there too; 'drift report' prints the newest
    checked = CliRunner().invoke(app, ["drift", "check"])
    assert checked.exit_code == 0, checked.output
    said = " ".join(checked.output.split())
    assert "status=drift" in said and "drift report --check-id check-" in said
    newest = CliRunner().invoke(app, ["drift", "report"])
    assert newest.exit_code == 0 and newest.output.startswith("<!doctype html>")
    assert newest.output != page  # another check's page (its own time in the title)
    assert not (tmp_path / "reports").exists()
    assert job_rows and job_rows[-1].outcome == "promoted"
    assert job_rows[0].model_version == "6" and job_rows[0].state == "succeeded"
    # the next scheduled run starts from the stored state: cooldown, no second job
    again = CliRunner().invoke(app, ["drift", "cycle"])
    assert again.exit_code == 0, again.output
    assert "retraining suppressed (cooldown)" in again.output and len(trained) == 1


@pytest.fixture(scope="module")
def local_ray() -> Iterator[None]:
    """A Ray of its own (left as found), this module's job bodies shipped by value."""
    with local_ray_for(__name__):
        yield


def slow_retrain(settings: Settings, start: date, end: date) -> JobResult:
    """Stands in for ``retrain_and_promote`` on a Ray worker."""
    time.sleep(1.0)
    return JobResult("refused", "8", [f"{start}..{end}"])


def test_ray_task_outcome_reaches_a_restarted_monitor(
    local_ray: None, tmp_path: Path, records_engine: Engine
) -> None:
    """The launcher's side, with a stand-in job (a second long and a lost task in
    seconds); the real job body across a restart is the drift scenario's
    (tests/integration/drift_loop/test_scenario.py)."""
    settings = _settings(tmp_path, "ray-task")
    first = RayTaskLauncher(settings, slow_retrain, records=records_engine)
    job_id = first.launch(date(2026, 6, 1), date(2026, 7, 1))
    restarted = RayTaskLauncher(settings, slow_retrain, records=records_engine)
    deadline = time.monotonic() + 120
    while (result := restarted.poll(job_id)) is None:  # running until the task stores it
        assert time.monotonic() < deadline, "the Ray task did not store its outcome"
        time.sleep(0.2)
    assert result == JobResult("refused", "8", ["2026-06-01..2026-07-01"])

    # a job whose task died with its driver: failed once the timeout has passed
    with records_engine.begin() as conn:
        start_retrain_job(conn, "task-lost", datetime.now(UTC) - timedelta(hours=1))
    assert restarted.poll("task-lost") is None
    impatient = RayTaskLauncher(
        settings, slow_retrain, records=records_engine, lost_after=timedelta(minutes=30)
    )
    lost = impatient.poll("task-lost")
    assert lost is not None and lost.outcome == "failed" and "task lost" in lost.reasons[0]
