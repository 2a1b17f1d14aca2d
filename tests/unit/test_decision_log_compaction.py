"""Decision-log compaction: one file per day, no row lost or doubled, writers running."""

from __future__ import annotations

import threading
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from fraudlens.cli import app
from fraudlens.scoring import compaction
from fraudlens.scoring.compaction import compact_day, compact_log, live_files
from fraudlens.scoring.decision_log import ParquetLog, read_log

DAY = datetime(2026, 6, 3, 10, 0, tzinfo=UTC)


def rows(start: int, n: int, source: str = "api", when: datetime = DAY) -> list[dict[str, Any]]:
    return [
        {
            "decision_id": f"d{i}",
            "transaction_id": f"t{i}",
            "event_time": when + timedelta(seconds=i),
            "score": i / 1000,
            "source": source,
        }
        for i in range(start, start + n)
    ]


def write_parts(base: Path, batches: list[list[dict[str, Any]]]) -> None:
    log = ParquetLog(base, "api", flush_s=60)
    for batch in batches:
        log.append(batch)
        log.flush()  # one part file per batch, as a busy writer leaves them


def ids(base: Path, day: str = "2026-06-03") -> list[tuple[str, str]]:
    frame = read_log(base, day)
    return sorted(zip(frame["decision_id"], frame["source"], strict=True))


def raw_rows(folder: Path) -> int:
    import pyarrow.parquet as pq

    return sum(pq.read_metadata(p).num_rows for p in live_files(folder))


def test_merges_parts_into_one_file_and_drops_repeats(tmp_path: Path) -> None:
    # 5 parts; the 4th repeats 10 decisions (an at-least-once writer retried);
    # the stream scorer's decision on the same transactions is kept apart.
    write_parts(
        tmp_path, [rows(0, 30), rows(30, 30), rows(60, 30), rows(50, 10), rows(0, 5, "stream")]
    )
    folder = tmp_path / "date=2026-06-03"
    assert len(live_files(folder)) == 5 and raw_rows(folder) == 105
    before = ids(tmp_path)
    assert len(before) == 95  # readers already see each decision once

    done = compact_day(folder)

    assert (done.files_in, done.rows_in, done.rows_out, done.duplicates) == (5, 105, 95, 10)
    assert live_files(folder) == [done.output]
    assert raw_rows(folder) == 95
    assert ids(tmp_path) == before
    assert compact_day(folder).output is None  # one file: nothing to do


def test_new_part_written_during_compaction_is_kept(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_parts(tmp_path, [rows(0, 20), rows(20, 20), rows(40, 20)])
    folder = tmp_path / "date=2026-06-03"
    read = compaction.read_table
    late_writer = ParquetLog(tmp_path, "stream", flush_s=60)

    def read_then_write(path: Path) -> Any:
        # A writer flushes a new part after the compactor took its snapshot.
        if not late_writer.written:
            late_writer.append(rows(100, 7, "stream"))
            late_writer.flush()
        return read(path)

    monkeypatch.setattr(compaction, "read_table", read_then_write)
    done = compact_day(folder)

    assert done.rows_out == 60
    files = live_files(folder)
    assert len(files) == 2 and done.output in files  # the late part is still there
    assert len(ids(tmp_path)) == 67
    monkeypatch.setattr(compaction, "read_table", read)
    again = compact_day(folder)
    assert (again.files_in, again.rows_out) == (2, 67)
    assert len(ids(tmp_path)) == 67


def test_crash_after_rename_loses_nothing_and_doubles_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_parts(tmp_path, [rows(0, 25), rows(25, 25)])
    folder = tmp_path / "date=2026-06-03"
    before = ids(tmp_path)

    def crash(paths: list[Path]) -> None:
        raise OSError("killed")

    monkeypatch.setattr(compaction, "_remove", crash)
    with pytest.raises(OSError, match="killed"):
        compact_day(folder)
    # The merged file and the old parts are both on disk; readers see each row once.
    assert len(live_files(folder)) == 3 and raw_rows(folder) == 100
    assert ids(tmp_path) == before
    monkeypatch.undo()
    done = compact_day(folder)  # the next run merges the leftovers
    assert (done.rows_in, done.rows_out) == (100, 50)
    assert len(live_files(folder)) == 1 and ids(tmp_path) == before


def test_concurrent_writer_thread_loses_no_row(tmp_path: Path) -> None:
    writer = ParquetLog(tmp_path, "api", flush_s=60)
    stop = threading.Event()
    sent: list[int] = []

    def write() -> None:
        i = 0
        while not stop.is_set():
            writer.append(rows(i, 3))
            writer.flush()
            sent.append(i)
            i += 3

    thread = threading.Thread(target=write)
    thread.start()
    folder = tmp_path / "date=2026-06-03"
    try:
        runs = 0
        while runs < 8:
            if len(live_files(folder)) >= 2:
                compact_day(folder)
                runs += 1
    finally:
        stop.set()
        thread.join()
    expected = sorted((f"d{i}", "api") for i in range(sent[-1] + 3))
    assert ids(tmp_path) == expected
    compact_day(folder)
    assert raw_rows(folder) == len(expected)


def test_compact_log_leaves_today_and_later_alone(tmp_path: Path) -> None:
    old, today = datetime(2026, 6, 1, tzinfo=UTC), datetime(2026, 6, 3, tzinfo=UTC)
    write_parts(tmp_path, [rows(0, 5, when=old), rows(5, 5, when=old)])
    write_parts(tmp_path, [rows(10, 5, when=today), rows(15, 5, when=today)])
    done = compact_log(tmp_path, before=date(2026, 6, 3))
    assert [c.day for c in done] == ["2026-06-01"]
    assert len(live_files(tmp_path / "date=2026-06-01")) == 1
    assert len(live_files(tmp_path / "date=2026-06-03")) == 2
    assert [c.day for c in compact_log(tmp_path, day=date(2026, 6, 3))] == ["2026-06-03"]


def test_cli_compacts_and_rejects_a_bad_date(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FRAUDLENS_DATA_DIR", str(tmp_path))
    write_parts(tmp_path / "decisions", [rows(0, 4), rows(4, 4), rows(0, 4)])
    runner = CliRunner()
    result = runner.invoke(app, ["decisions", "compact", "--before", "2026-06-04"])
    assert result.exit_code == 0, result.output
    assert "12 rows -> 8 (4 repeats dropped)" in result.output
    bad = runner.invoke(app, ["decisions", "compact", "--before", "June 4"])
    assert bad.exit_code == 2 and "--before" in bad.output


def test_chunked_buffer_keeps_every_row_and_column(tmp_path: Path) -> None:
    log = ParquetLog(tmp_path, "api", flush_s=60, chunk_rows=8)
    for start in range(0, 90, 3):
        batch = rows(start, 3)
        if start >= 45:  # a newer model logs one more feature
            batch = [r | {"f_new": 1.0} for r in batch]
        log.append(batch)
    log.close()
    frame = read_log(tmp_path)
    assert sorted(frame["decision_id"]) == sorted(f"d{i}" for i in range(90))
    assert frame["f_new"].notna().sum() == 45


def test_a_transaction_scored_again_keeps_the_decision_scored_first(tmp_path: Path) -> None:
    # Scored by version 1, then again by version 2 after a promotion (same decision
    # id); version 2's row comes first in file order, as another writer's file may.
    first = {**rows(0, 1)[0], "model_version": "1", "scored_at": DAY}
    again = {**first, "model_version": "2", "scored_at": DAY + timedelta(minutes=5)}
    write_parts(tmp_path, [[again, *rows(1, 2)], [first]])

    def kept() -> dict[str, Any]:
        frame = read_log(tmp_path).set_index("transaction_id")
        return dict(frame["model_version"].fillna("-"))

    assert kept() == {"t0": "1", "t1": "-", "t2": "-"}
    assert compact_day(tmp_path / "date=2026-06-03").rows_out == 3
    assert kept() == {"t0": "1", "t1": "-", "t2": "-"}  # the merged file kept it too
