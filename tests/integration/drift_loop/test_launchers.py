"""The default retraining launcher (``drift.launcher=ray_task``) on a real local Ray."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest
from local_ray import local_ray as local_ray_for

from drift.launchers import JobResult, RayTaskLauncher
from fraudlens.settings import Settings

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module", autouse=True)
def local_ray() -> Iterator[None]:
    """A Ray of its own (left as found), this module's job bodies shipped by value."""
    with local_ray_for(__name__):
        yield


def fake_retrain(settings: Settings, start: date, end: date) -> JobResult:
    """Stands in for ``retrain_and_promote``: says where and on what it ran."""
    return JobResult("promoted", "7", [f"pid {os.getpid()}", f"{start}..{end}", settings.mode])


def broken_retrain(settings: Settings, start: date, end: date) -> JobResult:
    raise RuntimeError("worker crashed")


def _wait(launcher: RayTaskLauncher, job_id: str) -> JobResult:
    deadline = time.monotonic() + 120
    while (result := launcher.poll(job_id)) is None:
        assert time.monotonic() < deadline, "the Ray task did not finish"
        time.sleep(0.2)
    return result


def test_ray_task_launcher_runs_the_job_on_a_ray_worker(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path)
    launcher = RayTaskLauncher(settings, body=fake_retrain)
    job_id = launcher.launch(date(2026, 3, 1), date(2026, 4, 1))
    assert job_id.startswith("task-")
    result = _wait(launcher, job_id)
    assert result.outcome == "promoted" and result.version == "7"
    pid, window, mode = result.reasons
    assert pid != f"pid {os.getpid()}"  # ran in a Ray worker, not in the monitor
    assert window == "2026-03-01..2026-04-01" and mode == settings.mode


def test_a_crashed_or_unknown_job_is_a_failed_outcome(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path)
    launcher = RayTaskLauncher(settings, body=broken_retrain)
    result = _wait(launcher, launcher.launch(date(2026, 3, 1), date(2026, 4, 1)))
    assert result.outcome == "failed" and "worker crashed" in result.reasons[0]
    assert launcher.poll("task-unknown") == JobResult(
        "failed", None, ["unknown job (monitor restarted?)"]
    )
