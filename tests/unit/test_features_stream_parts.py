"""Stream-job parts without Kafka: the watermark buffer, offline files, Feast config."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from fraudlens.errors import ConfigError, FeatureStoreError
from fraudlens.features.fold import StateFolder
from fraudlens.features.offline import ensure_offline_folders, read_view, write_rows
from fraudlens.features.reorder import Reorderer
from fraudlens.features.repo import feast_variables, repo_config
from fraudlens.features.state import US_PER_DAY, TxnEvent
from fraudlens.features.state_codec import decode_card
from fraudlens.settings import FeastSettings, Settings

P0, P1, LABELS = ("tx", 0), ("tx", 1), ("labels", 0)


def test_reorderer_releases_in_time_order_behind_the_slowest_partition() -> None:
    r: Reorderer[str] = Reorderer(idle_seconds=2.0)
    r.assign([P0, P1, LABELS], now=0.0)
    r.add(P0, 0, 10, "a", now=0.1)
    r.add(P0, 1, 30, "c", now=0.1)
    assert r.release(now=0.2) == []  # P1 and LABELS have not spoken yet
    r.add(P1, 0, 20, "b", now=0.3)
    r.add(LABELS, 0, 25, "label", now=0.3)
    assert r.release(now=0.4) == ["a"]  # watermark = min(30, 20, 25) = 20
    assert r.commit_offsets() == {P0: 1}
    r.add(P1, 1, 40, "d", now=0.5)
    assert r.release(now=0.6) == ["b"]  # watermark 25 (labels); strictly before it
    r.add(LABELS, 1, 35, "label2", now=0.7)
    assert r.release(now=0.8) == ["label"]  # watermark 30
    assert r.release(now=5.0) == []  # silent, but no draining poll yet: not idle
    for _ in range(5):
        r.polled(drained=True)
    assert r.release(now=5.0) == ["c", "label2", "d"]  # everyone idle: flush
    assert r.commit_offsets() == {P0: 2, P1: 2, LABELS: 2}
    r.add(P1, 2, 35, "late", now=5.1)
    assert r.late == 1


def test_a_backlog_or_a_starved_process_does_not_make_partitions_idle() -> None:
    r: Reorderer[str] = Reorderer(idle_seconds=2.0, quiet_polls=3)
    r.assign([P0, P1], now=0.0)
    r.add(P0, 0, 10, "a", now=0.1)
    for _ in range(10):
        r.polled(drained=False)  # full batches: P1's data may be queued behind P0's
    assert r.release(now=60.0) == []
    for _ in range(3):
        r.polled(drained=True)
    assert r.release(now=60.0) == ["a"]


def test_reorderer_never_commits_past_a_buffered_event() -> None:
    r: Reorderer[str] = Reorderer(idle_seconds=2.0)
    r.assign([P0, P1], now=0.0)
    r.add(P0, 0, 50, "x", now=0.1)
    r.skip(P0, 1, now=0.1)  # a dead-lettered message
    r.add(P1, 0, 10, "y", now=0.1)
    r.add(P1, 1, 60, "z", now=0.1)
    assert r.release(now=0.2) == ["y"]  # watermark min(50, 60)
    assert r.commit_offsets() == {P1: 1}  # P0's offset 0 is still buffered
    r.forget([P0])  # revoked: its buffered event belongs to the new owner now
    for _ in range(5):
        r.polled(drained=True)
    assert len(r) == 1 and r.release(now=9.0) == ["z"]


def test_offline_rows_round_trip(tmp_path: Path) -> None:
    ensure_offline_folders(tmp_path)
    folder = StateFolder(90 * US_PER_DAY)
    result = folder.apply(
        [
            TxnEvent(f"x{i}", 1_780_000_000_000_000 + i, "tok", "t1", "m", "FR", 1.5)
            for i in range(3)
        ]
    )
    path = write_rows(tmp_path, "card_state", result.card_rows, "test")
    assert path is not None and path.name.startswith("test-")
    table = read_view(tmp_path, "card_state")
    assert table.num_rows == 3
    assert decode_card(table.column("c_state").to_pylist()[-1]).amount == [1.5, 1.5, 1.5]
    assert str(pq.read_schema(path).field("state_ts").type) == "timestamp[us, tz=UTC]"
    assert not list(tmp_path.glob("**/.*.tmp"))


def test_feast_config_comes_from_settings(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path, feast=FeastSettings(project="p1"))
    variables = feast_variables(settings)
    assert variables["FRAUDLENS_FEAST__SQLITE_PATH"] == str(tmp_path / "feast" / "online.db")
    config = repo_config(settings)
    assert config.project == "p1"
    assert config.online_store.type == "sqlite"
    redis = Settings(
        data_dir=tmp_path,
        feast=FeastSettings(online_store="redis", redis_connection_string="10.0.0.1:6380"),
    )
    assert repo_config(redis).online_store.connection_string == "10.0.0.1:6380"


def test_missing_feast_yaml_is_a_config_error(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path, feast=FeastSettings(repo_path=tmp_path))
    with pytest.raises(ConfigError):
        repo_config(settings)


def test_an_offline_folder_of_the_list_column_format_is_refused(tmp_path: Path) -> None:
    old = pa.schema([("card_token", pa.string()), ("c_ts", pa.list_(pa.int64()))])
    (tmp_path / "card_state").mkdir()
    pq.write_table(old.empty_table(), tmp_path / "card_state" / "empty-schema.parquet")
    with pytest.raises(FeatureStoreError, match="older state format"):
        ensure_offline_folders(tmp_path)
    ensure_offline_folders(tmp_path / "fresh")
    ensure_offline_folders(tmp_path / "fresh")  # a folder of this format is kept
