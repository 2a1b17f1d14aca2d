"""Where a retraining job runs: in-process, a local Ray task, or a Ray job.

Every launcher runs the same job body, ``retrain_and_promote``: train on the
latest window, then the promotion gate. The champion changes only if the gate
passes. A KubeRay ``RayJob`` launcher (Kubernetes) will implement the same
``Launcher`` protocol.
"""

from __future__ import annotations

import json
import logging
import os
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any, Literal, Protocol

from fraudlens.settings import Settings

logger = logging.getLogger(__name__)

Outcome = Literal["promoted", "refused", "failed"]


@dataclass(frozen=True)
class JobResult:
    """What a finished retraining produced."""

    outcome: Outcome
    version: str | None
    reasons: list[str]


class Launcher(Protocol):
    """Starts retraining jobs and reports their end."""

    def launch(self, start: date, end: date) -> str:
        """Start a job training on ``[start, end)``; return its id."""
        ...

    def poll(self, job_id: str) -> JobResult | None:
        """The job's result, or None while it runs."""
        ...


def retrain_and_promote(settings: Settings, start: date, end: date) -> JobResult:
    """The job body: ``training.pipeline.train`` then ``training.promote.promote``."""
    from training.pipeline import train
    from training.promote import promote

    try:
        trained = train(settings, start, end)
        decision = promote(settings, trained.version)
    except Exception as exc:  # a failed job is an outcome, counted and logged
        logger.exception("retraining on %s..%s failed", start, end)
        return JobResult("failed", None, [f"{type(exc).__name__}: {exc}"])
    outcome: Outcome = "promoted" if decision.promoted else "refused"
    return JobResult(outcome, decision.version, list(decision.reasons))


JobBody = Callable[[Settings, date, date], JobResult]


class InlineLauncher:
    """Runs the job in this process, synchronously (tests, demo, scenario)."""

    def __init__(self, settings: Settings, body: JobBody = retrain_and_promote) -> None:
        self.settings = settings
        self.body = body
        self._results: dict[str, JobResult] = {}

    def launch(self, start: date, end: date) -> str:
        job_id = f"inline-{uuid.uuid4().hex[:8]}"
        self._results[job_id] = self.body(self.settings, start, end)
        return job_id

    def poll(self, job_id: str) -> JobResult | None:
        return self._results.get(job_id, JobResult("failed", None, ["unknown job"]))


class RayTaskLauncher:
    """Runs the job as a task on the local (or configured) Ray cluster."""

    def __init__(self, settings: Settings, body: JobBody = retrain_and_promote) -> None:
        import ray

        if not ray.is_initialized():
            ray.init(address=settings.training.ray_address, ignore_reinit_error=True)
        self._remote = ray.remote(num_cpus=0.5)(body)
        self.settings = settings
        self._refs: dict[str, Any] = {}

    def launch(self, start: date, end: date) -> str:
        ref = self._remote.remote(self.settings, start, end)
        job_id = f"task-{ref.hex()[:16]}"
        self._refs[job_id] = ref
        return job_id

    def poll(self, job_id: str) -> JobResult | None:
        import ray

        ref = self._refs.get(job_id)
        if ref is None:
            return JobResult("failed", None, ["unknown job (monitor restarted?)"])
        ready, _ = ray.wait([ref], timeout=0)
        if not ready:
            return None
        try:
            result: JobResult = ray.get(ref)
        except Exception as exc:  # the task itself died
            return JobResult("failed", None, [f"{type(exc).__name__}: {exc}"])
        return result


class RayJobLauncher:
    """Submits ``python -m drift.job`` as a Ray job (the dashboard's job API).

    The job inherits this process's ``FRAUDLENS_*`` variables and writes its
    result to ``DATA_DIR/drift/jobs/<id>.json``.
    """

    def __init__(self, settings: Settings) -> None:
        from ray.job_submission import JobSubmissionClient

        self.settings = settings
        self.client = JobSubmissionClient(settings.drift.ray_job_address)

    def launch(self, start: date, end: date) -> str:
        job_id = f"fraudlens-retrain-{uuid.uuid4().hex[:8]}"
        env = {k: v for k, v in os.environ.items() if k.startswith("FRAUDLENS_")}
        env["FRAUDLENS_DATA_DIR"] = str(self.settings.data_dir)
        self.client.submit_job(
            entrypoint=f"python -m drift.job --start {start} --end {end} --job-id {job_id}",
            submission_id=job_id,
            runtime_env={"env_vars": env},
        )
        return job_id

    def poll(self, job_id: str) -> JobResult | None:
        from ray.job_submission import JobStatus

        status = self.client.get_job_status(job_id)
        if not status.is_terminal():
            return None
        path = result_path(self.settings, job_id)
        if status == JobStatus.SUCCEEDED and path.exists():
            return JobResult(**json.loads(path.read_text()))
        return JobResult("failed", None, [f"ray job {job_id} ended {status}"])


def result_path(settings: Settings, job_id: str) -> Path:
    """Where a Ray job writes its result."""
    return settings.data_dir / "drift" / "jobs" / f"{job_id}.json"


def make_launcher(settings: Settings) -> Launcher:
    """The launcher chosen by ``drift.launcher``."""
    kind = settings.drift.launcher
    if kind == "inline":
        return InlineLauncher(settings)
    if kind == "ray_job":
        return RayJobLauncher(settings)
    return RayTaskLauncher(settings)
