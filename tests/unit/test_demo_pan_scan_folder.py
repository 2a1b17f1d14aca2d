"""The demo's folder scan skips embedded PostgreSQL data folders and files that vanish mid-scan."""

from __future__ import annotations

from pathlib import Path

import pytest

from fraudlens.demo import pan_scan
from fraudlens.demo.pan_scan import postgres_folders, scan_folder


def test_embedded_postgres_folders_are_skipped_and_found_anywhere(tmp_path: Path) -> None:
    for folder in (tmp_path / "postgres", tmp_path / "drift-scenario" / "postgres"):
        (folder / "global").mkdir(parents=True)
        (folder / "PG_VERSION").write_text("16\n")
        (folder / "base" / "1").mkdir(parents=True)
        (folder / "base" / "1" / "PG_VERSION").write_text("16\n")  # a database's, not a server's
        (folder / "global" / "pg_filenode.map").write_bytes(b"\x00\x01binary page")
    (tmp_path / "app.log").write_text("a payment\n")
    found = postgres_folders(tmp_path)
    assert sorted(found) == [tmp_path / "drift-scenario" / "postgres", tmp_path / "postgres"]
    counts, findings = scan_folder(tmp_path, skip=found)
    assert sum(counts.values()) == 1 and findings == []
    everything, _ = scan_folder(tmp_path)
    assert sum(everything.values()) == 7  # without skipping: every server file too


def test_a_file_that_vanishes_during_the_scan_is_not_counted(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "kept.log").write_text("kept\n")
    (tmp_path / "gone.tmp").write_text("temporary\n")
    kind = pan_scan._kind

    def vanishing(path: Path) -> str:
        if path.name == "gone.tmp":
            path.unlink()
        return kind(path)

    monkeypatch.setattr(pan_scan, "_kind", vanishing)
    counts, findings = scan_folder(tmp_path)
    assert sum(counts.values()) == 1 and findings == []
