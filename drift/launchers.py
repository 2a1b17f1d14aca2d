"""Where a retraining job runs: in-process, a local Ray task, or a Ray job.

Every launcher runs the same job body, ``retrain_and_promote``: train on the
latest window, then the promotion gate, whose verdict goes into the audit chain
(actor ``job:retrain``) like a promotion made over the API. The champion
changes only if the gate passes. Jobs that run elsewhere (a Ray task, a Ray job) write their outcome
into the records database (``retrain_jobs``), where any launcher instance,
e.g. the one of a restarted monitor, reads it: never a shared file.
"""

from __future__ import annotations

import logging
import os
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import TYPE_CHECKING, Any, Literal, Protocol

from fraudlens.settings import Settings

if TYPE_CHECKING:
    from sqlalchemy import Engine

logger = logging.getLogger(__name__)

JOB_ACTOR = "job:retrain"  # who the audit chain says promoted (or refused) a retrained version
LOST_AFTER = timedelta(hours=6)  # a job with no outcome and no live task after this: failed

Outcome = Literal["promoted", "refused", "failed"]


@dataclass(frozen=True)
class JobResult:
    """What a finished retraining produced."""

    outcome: Outcome
    version: str | None
    reasons: list[str]


JobBody = Callable[[Settings, date, date], JobResult]
DataReader = Callable[[date, date], Any]  # [start, end) -> training.dataset.TrainingData


class Launcher(Protocol):
    """Starts retraining jobs and reports their end."""

    def launch(self, start: date, end: date) -> str:
        """Start a job training on ``[start, end)``; return its id."""
        ...

    def poll(self, job_id: str) -> JobResult | None:
        """The job's result, or None while it runs."""
        ...


def retrain_and_promote(
    settings: Settings, start: date, end: date, *, data: DataReader | None = None
) -> JobResult:
    """The job body: ``training.pipeline.train`` then ``training.promote.promote``.

    ``data`` reads labelled rows of ``[start, end)``, with the labels known at
    ``end``, in place of the history and feature store (the drift scenario's
    in-memory bank); the gate reads its holdout through it too.
    """
    from training.pipeline import train
    from training.promote import promote

    try:
        if data is None:
            trained = train(settings, start, end)
            decision = promote(settings, trained.version)
        else:
            trained = train(settings, start, end, data=data(start, end))
            decision = promote(
                settings,
                trained.version,
                read=lambda lo, hi, _service: data(lo.date(), hi.date()),
                labels_read_at=datetime.combine(end, time(), UTC),
            )
    except Exception as exc:  # a failed job is an outcome, counted and logged
        logger.exception("retraining on %s..%s failed", start, end)
        return JobResult("failed", None, [f"{type(exc).__name__}: {exc}"])
    outcome: Outcome = "promoted" if decision.promoted else "refused"
    reasons = list(decision.reasons)
    try:
        audit_gate(settings, decision, start, end)
    except Exception as exc:  # the gate has acted: say the chain lacks it, loudly
        logger.exception(
            "the promotion gate's verdict on version %s was not audited", decision.version
        )
        reasons.append(f"not audited: {type(exc).__name__}: {exc}")
    return JobResult(outcome, decision.version, reasons)


def audit_gate(settings: Settings, decision: Any, start: date, end: date) -> None:
    """Append the gate's verdict on a retrained version to the audit chain."""
    from fraudlens.security.audit import Action, audit_log_from_settings

    audit_log_from_settings(settings).append(
        JOB_ACTOR,
        Action.MODEL_PROMOTED if decision.promoted else Action.PROMOTION_REFUSED,
        target=f"model version {decision.version}",
        details={
            "previous_champion": decision.champion,
            "reasons": list(decision.reasons),
            "trained_on": [start.isoformat(), end.isoformat()],
        },
    )


# The outcome of an inline job this process did not run: its pass ended before the job did.
LOST_INLINE_JOB = "the pass that ran this job inline ended before the job finished"


class InlineLauncher:
    """Runs the job in this process, synchronously (the scheduled job's run, which waits; tests).

    ``launch`` only names the job; the first ``poll`` runs it and returns its
    outcome. So the loop stores the job as running before it runs, and a pass
    that dies during the job leaves that record: the next pass (a new
    process, which never ran it) polls it and reads it as failed.
    """

    def __init__(self, settings: Settings, body: JobBody = retrain_and_promote) -> None:
        self.settings = settings
        self.body = body
        self._waiting: dict[str, tuple[date, date]] = {}
        self._results: dict[str, JobResult] = {}

    def launch(self, start: date, end: date) -> str:
        job_id = f"inline-{uuid.uuid4().hex[:8]}"
        self._waiting[job_id] = (start, end)
        return job_id

    def poll(self, job_id: str) -> JobResult | None:
        if job_id in self._waiting:
            start, end = self._waiting.pop(job_id)
            self._results[job_id] = self.body(self.settings, start, end)
        return self._results.get(job_id, JobResult("failed", None, [LOST_INLINE_JOB]))


def stored_result(engine: Engine, job_id: str) -> tuple[JobResult | None, datetime | None]:
    """A job's outcome from ``retrain_jobs`` (None while it has none) and its start time.

    The start time is None when the job was never stored.
    """
    from fraudlens.records.operations import read_retrain_job

    with engine.connect() as conn:
        row = read_retrain_job(conn, job_id)
    if row is None:
        return None, None
    if row["outcome"] is None:
        return None, row["started_at"]
    result = JobResult(row["outcome"], row["model_version"], list(row["reasons"]))
    return result, row["started_at"]


def store_result(engine: Engine, job_id: str, result: JobResult) -> None:
    """Write a job's outcome into ``retrain_jobs``."""
    from fraudlens.records.operations import finish_retrain_job

    with engine.begin() as conn:
        finish_retrain_job(
            conn, job_id, result.outcome, result.version, result.reasons, datetime.now(UTC)
        )


def _run_and_store(
    body: JobBody, settings: Settings, start: date, end: date, job_id: str, records_url: str | None
) -> JobResult:
    """A Ray task's body: the job, then its outcome into the records database."""
    try:
        result = body(settings, start, end)
    except Exception as exc:  # the body crashed: still an outcome to store
        result = JobResult("failed", None, [f"{type(exc).__name__}: {exc}"])
    if records_url is not None:
        from fraudlens.records.engine import make_engine

        engine = make_engine(records_url, pool_size=0)
        try:
            store_result(engine, job_id, result)
        finally:
            engine.dispose()
    return result


class RayTaskLauncher:
    """Runs the job as a task on the local (or configured) Ray cluster.

    With ``records``, the task writes its outcome into ``retrain_jobs``: a new
    launcher (a restarted monitor) polling a job it did not launch reads the
    row, running until the outcome is there, failed after ``lost_after``
    without one (the task is gone with its driver).
    """

    def __init__(
        self,
        settings: Settings,
        body: JobBody = retrain_and_promote,
        *,
        records: Engine | None = None,
        lost_after: timedelta = LOST_AFTER,
    ) -> None:
        import ray

        if not ray.is_initialized():
            ray.init(address=settings.training.ray_address, ignore_reinit_error=True)
        self._remote = ray.remote(num_cpus=0.5)(_run_and_store)
        self.body = body
        self.settings = settings
        self.records = records
        self.lost_after = lost_after
        self._refs: dict[str, Any] = {}

    def launch(self, start: date, end: date) -> str:
        job_id = f"task-{uuid.uuid4().hex[:16]}"
        url = None
        if self.records is not None:
            from fraudlens.records.operations import start_retrain_job

            with self.records.begin() as conn:
                start_retrain_job(conn, job_id, datetime.now(UTC))
            url = self.records.url.render_as_string(hide_password=False)
        ref = self._remote.remote(self.body, self.settings, start, end, job_id, url)
        self._refs[job_id] = ref
        return job_id

    def poll(self, job_id: str) -> JobResult | None:
        import ray

        ref = self._refs.get(job_id)
        if ref is None:
            return self._poll_stored(job_id)
        ready, _ = ray.wait([ref], timeout=0)
        if not ready:
            return None
        try:
            result: JobResult = ray.get(ref)
        except Exception as exc:  # the task itself died
            return JobResult("failed", None, [f"{type(exc).__name__}: {exc}"])
        return result

    def _poll_stored(self, job_id: str) -> JobResult | None:
        if self.records is None:
            return JobResult("failed", None, ["unknown job (monitor restarted?)"])
        result, started = stored_result(self.records, job_id)
        if result is not None:
            return result
        if started is None:
            return JobResult("failed", None, [f"job {job_id} is not in retrain_jobs"])
        if datetime.now(UTC) - started > self.lost_after:
            return JobResult(
                "failed",
                None,
                [f"no outcome from task {job_id} {self.lost_after} after its launch (task lost)"],
            )
        return None


class JobStatusClient(Protocol):
    """The part of ``ray.job_submission.JobSubmissionClient`` the launcher uses."""

    def submit_job(
        self,
        *,
        entrypoint: str,
        submission_id: str | None = None,
        runtime_env: dict[str, Any] | None = None,
    ) -> str:
        """Submit a job; return its submission id."""
        ...

    def get_job_status(self, job_id: str) -> Any:
        """The job's ``JobStatus``."""
        ...


class RayJobLauncher:
    """Submits ``python -m drift.job`` as a Ray job (the dashboard's job API).

    The job inherits this process's ``FRAUDLENS_*`` variables and writes its
    result into ``retrain_jobs``; ``poll`` reads the Ray job status and the row.

    Args:
        settings: FraudLens settings (``drift.ray_job_address``).
        records: the records database (default: ``engine_from_settings``).
        client: the job API client (default: a ``JobSubmissionClient``).
    """

    def __init__(
        self,
        settings: Settings,
        records: Engine | None = None,
        client: JobStatusClient | None = None,
    ) -> None:
        if client is None:
            from ray.job_submission import JobSubmissionClient

            client = JobSubmissionClient(settings.drift.ray_job_address)
        if records is None:
            from fraudlens.records.engine import engine_from_settings

            records = engine_from_settings(settings, pool_size=1)
        self.settings = settings
        self.client = client
        self.records = records

    def launch(self, start: date, end: date) -> str:
        from fraudlens.records.operations import start_retrain_job

        job_id = f"fraudlens-retrain-{uuid.uuid4().hex[:8]}"
        with self.records.begin() as conn:
            start_retrain_job(conn, job_id, datetime.now(UTC))
        env = job_env(os.environ)
        env["FRAUDLENS_DATA_DIR"] = str(self.settings.data_dir)
        self.client.submit_job(
            entrypoint=f"python -m drift.job --start {start} --end {end} --job-id {job_id}",
            submission_id=job_id,
            runtime_env={"env_vars": env},
        )
        return job_id

    def poll(self, job_id: str) -> JobResult | None:
        result, _ = stored_result(self.records, job_id)
        if result is not None:
            return result
        status = self.client.get_job_status(job_id)
        if not status.is_terminal():
            return None
        result, _ = stored_result(self.records, job_id)  # written just before it ended?
        if result is not None:
            return result
        return JobResult("failed", None, [f"ray job {job_id} ended {status} without an outcome"])


def job_env(environ: Mapping[str, str]) -> dict[str, str]:
    """The monitor's FraudLens settings for a Ray job, secrets left out.

    A job's runtime env is stored by Ray and shown on its dashboard; the
    cluster's pods get the secrets from the Kubernetes Secret (``envFrom`` in
    every Ray manifest), so the job's driver has them without this copy.
    """
    from fraudlens.deploy.check import SECRET_ENV

    return {k: v for k, v in environ.items() if k.startswith("FRAUDLENS_") and k not in SECRET_ENV}


def make_launcher(
    settings: Settings, records: Engine | None = None, body: JobBody = retrain_and_promote
) -> Launcher:
    """The launcher chosen by ``drift.launcher``.

    ``records``: where jobs store outcomes; ``body``: the job (a Ray job always
    runs ``drift.job``, i.e. ``retrain_and_promote``).
    """
    kind = settings.drift.launcher
    if kind == "inline":
        return InlineLauncher(settings, body)
    if kind == "ray_job":
        return RayJobLauncher(settings, records)
    return RayTaskLauncher(settings, body, records=records)
