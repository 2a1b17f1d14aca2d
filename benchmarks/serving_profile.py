"""Where the time goes on the scoring path: CPU per request per process, and stack samples.

Two measurements, both taken while ``wrk`` loads the app:

- CPU time per request of every process involved (the load generator, the
  bare app or Serve's proxy, replica, controller, raylet, GCS), read from
  ``/proc/<pid>/stat`` before and after a run. On a 2-core machine the sum
  bounds the throughput: 2 cores / CPU-ms per request.
- ``py-spy`` stack samples of one process (the replica, the proxy, the bare
  app), sorted into stages: Feast read, ensemble, reasons, decision log,
  pandas, FastAPI/pydantic, HTTP server, Ray Serve internals, event loop.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

_TICKS = os.sysconf("SC_CLK_TCK")

# First match wins, checked over the whole stack (so pandas inside the Feast
# read counts as the Feast read).
STAGES: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("feast online read", ("online_vectors", "/feast/", "redis/")),
    ("reasons (contributions)", ("_explain", "contributions", "top_reasons")),
    ("ensemble predict", ("_predict (", "fraudlens/model/", "xgboost/", "torch/")),
    ("decision log", ("decision_log.py",)),
    ("shadow send", ("shadow.py", "RemoteShadow")),
    ("scoring policy", ("fraudlens/scoring/",)),
    ("request parsing/response (fastapi, pydantic)", ("fastapi/", "pydantic", "ray_apps/")),
    ("http server (uvicorn, starlette)", ("uvicorn/", "starlette/", "httptools", "h11")),
    ("ray serve internals (router, replica, proxy)", ("ray/serve/", "ray/_private/", "_raylet")),
    ("grpc / protobuf", ("grpc", "protobuf")),
    ("pickle / serialization", ("pickle", "serializ")),
    ("thread pool hops", ("concurrent/futures", "threading.py")),
    ("asyncio event loop", ("asyncio/", "uvloop")),
)


def _cpu_ticks(pid: int) -> int:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0
    return int(fields[11]) + int(fields[12])  # utime + stime


def _name(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()[:200]
    except OSError:
        return ""


def descendants(root: int) -> list[int]:
    """Every live process under ``root`` (Ray's raylet, GCS, workers of this run)."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(ppid, []).append(int(entry.name))
    out, todo = [], [root]
    while todo:
        for child in children.get(todo.pop(), []):
            out.append(child)
            todo.append(child)
    return out


def serve_roles(root: int) -> dict[str, list[int]]:
    """Ray processes of this run by role (found under the driver ``root``)."""
    patterns = {
        "serve replica": "ServeReplica:",
        "serve proxy": "ProxyActor",
        "haproxy": "haproxy",
        "serve controller": "ServeController",
        "raylet": "raylet",
        "gcs": "gcs_server",
    }
    roles: dict[str, list[int]] = {}
    for pid in descendants(root):
        name = _name(pid)
        for role, pattern in patterns.items():
            if pattern in name:
                roles.setdefault(role, []).append(pid)
                break
        else:
            roles.setdefault("other ray processes", []).append(pid)
    return roles


def cpu_per_request(
    roles: dict[str, list[int]], run: Callable[[], dict[str, Any]]
) -> tuple[dict[str, Any], dict[str, float]]:
    """Run ``run`` (a wrk run returning ``requests``) and the CPU-ms per request of each role.

    The load generator's own CPU is in the ``wrk`` role (``run`` reports it).
    """
    before = {role: sum(_cpu_ticks(p) for p in pids) for role, pids in roles.items()}
    row = run()
    requests = max(1, int(row["requests"]))
    per_request = {
        role: round((sum(_cpu_ticks(p) for p in pids) - before[role]) / _TICKS * 1000 / requests, 3)
        for role, pids in roles.items()
    }
    per_request["wrk (load generator)"] = round(row.pop("wrk_cpu_s") * 1000 / requests, 3)
    per_request = {k: v for k, v in per_request.items() if v > 0}
    per_request["total"] = round(sum(per_request.values()), 3)
    return row, per_request


class StackSampler:
    """py-spy on one process for ``seconds``: the share (%) of its busy samples per stage.

    Start it, load the app, then ``result()``; None when py-spy is missing or failed.
    """

    def __init__(self, pid: int, seconds: float) -> None:
        binary = shutil.which("py-spy") or str(Path(sys.executable).with_name("py-spy"))
        self._tmp = tempfile.TemporaryDirectory()
        self._out = Path(self._tmp.name) / "raw.txt"
        self._proc: subprocess.Popen[bytes] | None = None
        if Path(binary).exists():
            cmd = [
                binary, "record", "--pid", str(pid), "--duration", str(max(1, int(seconds))),
                "--rate", "200", "--format", "raw", "--nonblocking", "--output", str(self._out),
            ]  # fmt: skip
            self._proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def result(self) -> dict[str, float] | None:
        """Wait for py-spy and sort its samples into ``STAGES``."""
        if self._proc is None or self._proc.wait() != 0 or not self._out.exists():
            self._tmp.cleanup()
            return None
        counts: dict[str, int] = {}
        for line in self._out.read_text().splitlines():
            match = re.match(r"(.*) (\d+)$", line)
            if match is None:
                continue
            stack, n = match.group(1), int(match.group(2))
            stage = next((s for s, keys in STAGES if any(k in stack for k in keys)), None)
            if stage is None:  # name the innermost frame, to extend STAGES when needed
                stage = "other: " + stack.rsplit(";", 1)[-1].split(" (")[0]
            counts[stage] = counts.get(stage, 0) + n
        self._tmp.cleanup()
        total = sum(counts.values()) or 1
        ranked = sorted(counts.items(), key=lambda kv: -kv[1])
        return {stage: round(100 * n / total, 1) for stage, n in ranked}


def print_breakdown(title: str, per_request: dict[str, float], stages: dict[str, Any]) -> None:
    """Print CPU-ms per request per process and the stack-sample shares."""
    cells = ", ".join(f"{k} {v:.2f}" for k, v in per_request.items())
    print(f"  {title}: CPU ms per request: {cells}", flush=True)
    for who, shares in stages.items():
        if shares:
            top = ", ".join(f"{k} {v:.0f}%" for k, v in list(shares.items())[:8])
            print(f"    {who} samples: {top}", flush=True)


def stage_timings(settings: Any, bodies: list[str], n: int = 300) -> dict[str, float]:
    """Median stage timings of one-transaction batches, in-process (no HTTP, no log)."""
    import json

    import numpy as np

    from fraudlens.schema import parse_transaction
    from fraudlens.scoring.factory import build_service, default_config

    settings = settings.model_copy(
        update={"serve": settings.serve.model_copy(update={"decision_log": False})}
    )
    service = build_service(settings, "api", feature_timeout_s=10.0)
    active = service.apply_config(default_config(settings))
    stages: dict[str, list[float]] = {"features_ms": [], "model_ms": [], "policy_ms": []}
    flagged: list[float] = []
    for body in bodies[:n]:
        scored = service.scorer.score([parse_transaction(json.loads(body))], active)
        for key, values in stages.items():
            values.append(scored.timings[key])
        if scored.results[0].decision != "approve":
            flagged.append(scored.timings["policy_ms"])
    service.close()
    figures = {key: round(float(np.median(v)), 3) for key, v in stages.items()}
    figures["policy_ms_flagged"] = round(float(np.median(flagged)), 3) if flagged else 0.0
    print(
        "  one transaction in-process, median: features (Feast online read + ODFVs) "
        f"{figures['features_ms']} ms, ensemble {figures['model_ms']} ms, policy "
        f"{figures['policy_ms']} ms (flagged, with reasons: {figures['policy_ms_flagged']} ms)",
        flush=True,
    )
    return figures
