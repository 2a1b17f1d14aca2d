"""Last demo step: scan everything the demo produced for card numbers; fail on any.

Files under DATA_DIR (Parquet stores, the SQLite online store, the decision
log, MLflow's database and artifacts, reports, the broker's and the demo's
logs), Ray's application logs (workers' output, Serve, Train), the Redis online
store when it is the one configured, every row of the PostgreSQL records
(its data folder's binary pages are skipped as files), every topic of the
broker, and the demo's own summary. ``networks_only`` (first digit 2-6, as every issued card number
has) keeps MLflow's and Spark's epoch-millisecond integers out of the findings.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from fraudlens.demo.state import DemoState
from fraudlens.errors import DataError
from fraudlens.security.pan_scan import Finding, scan_file, scan_text
from fraudlens.security.pan_stores import (
    StoreScan,
    ray_application_logs,
    scan_redis,
    scan_topics,
)
from fraudlens.settings import Settings

NETWORKS_ONLY = True


def pan_scan_step(state: DemoState, console: Console) -> None:
    """Scan every output of the demo; raise ``DataError`` if a card number is found."""
    console.rule("last: scan every output for card numbers (Luhn)")
    settings = state.settings
    rows: list[tuple[str, str, int]] = []
    findings: list[Finding] = []

    # PostgreSQL's binary pages are no text (false Luhn hits): the records' rows are
    # scanned instead. The drift step's own server (under DATA_DIR/drift-scenario,
    # simulated days only) is skipped the same way.
    postgres = settings.records.resolved_embedded_dir(settings.data_dir)
    files, found = scan_folder(
        settings.data_dir, skip=[postgres, *postgres_folders(settings.data_dir)]
    )
    findings += found
    rows += [("DATA_DIR", kind, n) for kind, n in sorted(files.items())]
    if settings.records.database_url or postgres.is_dir():
        records = _scan_records(settings)
        findings += records.findings
        rows += [("PostgreSQL", f"table {name}", n) for name, n in sorted(records.counts.items())]
    ray_session = _ray_session_dir()
    if ray_session is not None:
        ray_logs = ray_application_logs(ray_session)
        findings += [f for p in ray_logs for f in scan_file(p, networks_only=NETWORKS_ONLY)]
        rows.append(("Ray worker, Serve and Train logs", "files", len(ray_logs)))
    if settings.feast.online_store == "redis":
        redis = scan_redis(_redis_client(settings), networks_only=NETWORKS_ONLY)
        findings += redis.findings
        rows.append(("Redis online store", "keys", redis.counts["keys"]))
    topics = scan_topics(settings.kafka.client_config(), networks_only=NETWORKS_ONLY)
    findings += topics.findings
    rows += [("Kafka", f"topic {name}", n) for name, n in sorted(topics.counts.items())]
    summary = json.dumps(state.summary, default=str)
    findings += scan_text(summary, "demo summary", networks_only=NETWORKS_ONLY)
    rows.append(("demo summary", "characters", len(summary)))

    table = Table("where", "what", "scanned")
    for where, what, count in rows:
        table.add_row(where, what, f"{count:,}")
    console.print(table)
    state.summary["pan_scan"] = {"scanned": rows, "findings": len(findings)}
    if findings:
        for finding in findings[:20]:
            console.print(f"[red]PAN found[/red] {finding.source}: {finding.location}")
        raise DataError(f"demo check failed: {len(findings)} card number(s) found in outputs")
    console.print("no card number anywhere: every output passes the Luhn scan")


def postgres_folders(root: Path) -> list[Path]:
    """Data folders of embedded PostgreSQL servers under ``root``."""
    return [p.parent for p in root.rglob("PG_VERSION") if (p.parent / "global").is_dir()]


def scan_folder(root: Path, skip: Sequence[Path] = ()) -> tuple[Counter[str], list[Finding]]:
    """Scan every file under ``root`` (except under ``skip``); counts files by kind.

    A file that disappears while the scan runs (a server's temporary file) is
    not counted.
    """
    counts: Counter[str] = Counter()
    findings: list[Finding] = []
    if not root.is_dir():
        return counts, findings
    files = (p for p in root.rglob("*") if p.is_file() and not p.is_symlink())
    for path in sorted(p for p in files if not any(p.is_relative_to(s) for s in skip)):
        try:
            kind = _kind(path)
            findings += scan_file(path, networks_only=NETWORKS_ONLY)
        except FileNotFoundError:
            continue
        counts[kind] += 1
    return counts, findings


def _kind(path: Path) -> str:
    with open(path, "rb") as handle:
        head = handle.read(16)
    if head.startswith(b"PAR1"):
        return "Parquet files"
    if head.startswith(b"SQLite format 3"):
        return "SQLite databases"
    if path.suffix in {".log", ".jsonl", ".out", ".err"}:
        return "log files"
    if path.suffix in {".html", ".htm", ".json", ".md", ".txt", ".csv"}:
        return "reports and text"
    return "other files"


def _ray_session_dir() -> Path | None:
    """Ray's session folder when Ray runs in this process (the serving step leaves it up)."""
    try:
        import ray
        from ray._private import worker

        if ray.is_initialized() and worker._global_node is not None:
            return Path(worker._global_node.get_session_dir_path())
    except (ImportError, AttributeError):
        pass
    return None


def _scan_records(settings: Settings) -> StoreScan:
    from fraudlens.records import records_engine
    from fraudlens.records.pan import scan_records

    with records_engine(settings) as engine:
        return scan_records(engine, networks_only=NETWORKS_ONLY)


def _redis_client(settings: Settings) -> Any:
    from feast.infra.online_stores.redis import RedisOnlineStore

    from fraudlens.features.repo import repo_config

    # Feast's own client honours the connection string (TLS, password, cluster).
    return RedisOnlineStore()._get_client(repo_config(settings).online_store)
