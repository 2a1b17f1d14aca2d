"""State snapshots of the stream feature job: format, stores, checkpointer, history check."""

from __future__ import annotations

import json
import logging
import pickle
import subprocess
import zlib
from pathlib import Path
from typing import Any

import pytest

from fraudlens.errors import ConfigError
from fraudlens.features.checkpoint import (
    _FIXED,
    MAGIC,
    Checkpointer,
    CheckpointError,
    check_compatible,
    check_history,
    decode,
    encode,
    load_into,
)
from fraudlens.features.fold import LabelEvent, StateFolder
from fraudlens.features.online_ids import UNKNOWN_ID
from fraudlens.features.snapshots import (
    FsspecSnapshotStore,
    LocalSnapshotStore,
    SnapshotStore,
    open_snapshot_store,
)
from fraudlens.features.state import US_PER_DAY, TxnEvent
from fraudlens.settings import CheckpointSettings, Settings

DELAY_US = 120 * US_PER_DAY
T0 = 1_780_000_000 * 1_000_000
PART = ("transactions", 0)


def _events(start: int, n: int) -> list[TxnEvent | LabelEvent]:
    out: list[TxnEvent | LabelEvent] = []
    for i in range(start, start + n):
        t = T0 + i * 3_600_000_000
        out.append(TxnEvent(f"tx{i}", t, f"tok_{i % 5}", f"term{i % 3}", "m1", "FR", 10.0 + i))
        if i % 4 == 0:
            out.append(LabelEvent(f"tx{i}", t + US_PER_DAY, True))
    return out


def _folder(n: int = 40) -> StateFolder:
    folder = StateFolder(DELAY_US)
    folder.apply(_events(0, n))
    return folder


def _rebuilt(header: dict[str, Any], body: bytes, version: int = 1) -> bytes:
    head = json.dumps(header).encode()
    return MAGIC + _FIXED.pack(version, len(head)) + head + body


def test_a_restored_state_goes_on_exactly_like_the_original() -> None:
    original = _folder()
    header, body = decode(encode(original, {"offsets": [], "watermark_us": 5}))
    restored = StateFolder(DELAY_US)
    check_compatible(header, restored, "s")
    load_into(restored, body)
    assert vars(restored) == vars(original)
    # Duplicates and labels of the restored transactions behave the same too.
    later = _events(30, 30)
    assert restored.apply(later) == original.apply(later)
    assert (restored.duplicates, restored.ignored_labels) == (10, original.ignored_labels)
    assert "tok_1" in restored.cards and header["classes"]  # generic: classes listed


def test_incompatible_snapshots_are_refused_naming_the_rebuild() -> None:
    header, body = decode(encode(_folder(), {"offsets": [], "watermark_us": 0}))
    with pytest.raises(CheckpointError, match="format version 9.*--no-snapshot"):
        decode(_rebuilt(header, body, version=9))
    changed = {**header, "classes": {**header["classes"]}}
    name = next(n for n in changed["classes"] if n.endswith(":CardState"))
    changed["classes"][name] = [*changed["classes"][name], "new_field"]
    with pytest.raises(CheckpointError, match="CardState with fields.*--no-snapshot"):
        check_compatible(changed, StateFolder(DELAY_US), "s")
    with pytest.raises(CheckpointError, match="max_label_delay_days"):
        check_compatible(header, StateFolder(DELAY_US + 1), "s")
    # Another matured delay keeps other days of terminal state: rebuild.
    with pytest.raises(CheckpointError, match="keeps 38 days.*needs 34.*--no-snapshot"):
        check_compatible(header, StateFolder(DELAY_US, matured_delay_days=3), "s")
    older = {k: v for k, v in header.items() if k != "terminal_retention_days"}
    check_compatible(older, StateFolder(DELAY_US), "s")  # before the setting: 38 days
    with pytest.raises(CheckpointError, match="damaged"):
        decode(_rebuilt(header, body[:-3]))


def test_a_snapshot_cannot_smuggle_code() -> None:
    body = zlib.compress(pickle.dumps({"cards": subprocess.Popen}))
    with pytest.raises(CheckpointError, match="may not hold subprocess.Popen"):
        load_into(StateFolder(DELAY_US), body)


@pytest.fixture(params=["local", "fsspec"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> SnapshotStore:
    if request.param == "local":
        return LocalSnapshotStore(tmp_path / "snaps")
    return FsspecSnapshotStore(f"memory://{tmp_path.name}/snaps")


def test_stores_list_whole_snapshots_in_write_order(store: SnapshotStore, tmp_path: Path) -> None:
    assert store.names("features-") == []
    store.write("features-g-all-002.snap", b"two")
    store.write("features-g-all-001.snap", b"one")
    store.write("other-001.snap", b"x")
    if isinstance(store, LocalSnapshotStore):
        (store.root / ".features-g-all-003.snap.ab.tmp").write_bytes(b"half")  # a crash mid-write
    assert store.names("features-") == ["features-g-all-001.snap", "features-g-all-002.snap"]
    assert store.read("features-g-all-002.snap") == b"two"
    store.delete("features-g-all-001.snap")
    store.delete("features-g-all-001.snap")
    assert store.names("features-g") == ["features-g-all-002.snap"]


def test_open_snapshot_store_defaults_under_the_data_dir(tmp_path: Path) -> None:
    local = open_snapshot_store(Settings(data_dir=tmp_path))
    assert isinstance(local, LocalSnapshotStore) and local.root == tmp_path / "checkpoints"
    remote = Settings(data_dir=tmp_path, checkpoint=CheckpointSettings(url="memory://b/c"))
    assert isinstance(open_snapshot_store(remote), FsspecSnapshotStore)


def test_production_opens_no_snapshot_store_on_the_pod_disk(tmp_path: Path) -> None:
    prod = Settings(mode="production", kafka={"bootstrap_servers": "b:9092"}, data_dir=tmp_path)
    with pytest.raises(ConfigError, match="checkpoint.url"):
        open_snapshot_store(prod)
    assert not (tmp_path / "checkpoints").exists()
    remote = prod.model_copy(update={"checkpoint": CheckpointSettings(url="memory://b/c")})
    assert isinstance(open_snapshot_store(remote), FsspecSnapshotStore)


class _Consumer:
    """The one consumer call the history check makes: (low, high) offsets."""

    def __init__(self, low: int) -> None:
        self.low = low

    def get_watermark_offsets(self, tp: Any, timeout: float, cached: bool) -> tuple[int, int]:
        return self.low, self.low + 100


def test_checkpointer_restores_the_newest_whole_snapshot_and_keeps_n(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    config = CheckpointSettings(keep=2, every_messages=10, every_seconds=3600)
    store = LocalSnapshotStore(tmp_path)
    writer = Checkpointer(config, store, group_id="g 1", role="all")
    folder = StateFolder(DELAY_US)
    assert writer.assign(_Consumer(0), folder, [PART]) == ({PART: 0}, None)
    for step in range(3):
        folder.apply(_events(step * 10, 10))
        writer.advance({PART: (step + 1) * 10, ("other", 0): 99})
        assert writer.due((step + 1) * 10, 0.0)
        assert writer.save(folder, step, (step + 1) * 10, 0.0)
    assert not writer.due(30, 0.0) and not writer.due(30, 0.0, final=True)
    names = store.names(writer.prefix)
    assert names == writer.written[1:] and names[0].startswith("features-g_1-all-")
    store.write(names[-1], store.read(names[-1])[:-1])  # the newest is damaged

    reader = Checkpointer(config, store, group_id="g 1", role="all")
    restored = StateFolder(DELAY_US)
    with caplog.at_level(logging.WARNING):
        starts, watermark = reader.assign(_Consumer(0), restored, [PART])
    assert (starts, watermark) == ({PART: 20}, 1)
    assert "checksum" in caplog.text
    assert restored.cards.keys() == folder.cards.keys()

    fresh = Checkpointer(config, store, group_id="g 1", role="all", load=False)
    assert fresh.assign(_Consumer(0), StateFolder(DELAY_US), [PART]) == ({PART: 0}, None)


def test_missing_history_warns_or_refuses(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING):
        assert check_history(_Consumer(50), {PART: None}, "warn", None) == {PART: 50}
    assert "transactions[0] needs offset 0, first retained is 50" in caplog.text
    assert "incomplete" in caplog.text
    with pytest.raises(CheckpointError, match="snapshot s1.*MISSING_HISTORY=warn"):
        check_history(_Consumer(50), {PART: 20}, "refuse", "s1")
    caplog.clear()
    assert check_history(_Consumer(50), {PART: 50}, "refuse", "s1") == {PART: 50}
    assert not caplog.text


def test_the_pan_scan_reads_inside_snapshots(pan_fixture_path: Any, tmp_path: Path) -> None:
    from fraudlens.security.pan_scan import scan_file

    leaky = StateFolder(DELAY_US)
    leaky.apply([TxnEvent("tx1", T0, "4111111111111111", "term1", "m1", "FR", 1.0)])
    path = pan_fixture_path("state.snap")
    path.write_bytes(encode(leaky, {"offsets": [], "watermark_us": 0}))
    assert [f.location.split(" ")[0] for f in scan_file(path, networks_only=True)] == ["state"]
    clean = tmp_path / "clean.snap"
    clean.write_bytes(encode(_folder(), {"offsets": [], "watermark_us": 0}))
    assert scan_file(clean, networks_only=True) == []


def test_a_snapshot_from_before_devices_restores_them_as_unknown() -> None:
    original = _folder()
    header, body = decode(encode(original, {"offsets": [], "watermark_us": 5}))
    # The snapshot as the previous release wrote it: CardState without device, ip.
    state = pickle.loads(zlib.decompress(body))
    marker, qualified, keys, columns = state["cards"]
    state["cards"] = (marker, qualified, keys, columns[:-2])
    old_body = zlib.compress(pickle.dumps(state, protocol=5))
    old_header = {**header, "classes": {**header["classes"]}}
    old_header["classes"][qualified] = header["classes"][qualified][:-2]
    restored = StateFolder(DELAY_US)
    check_compatible(old_header, restored, "s")
    load_into(restored, old_body)
    for key, card in restored.cards.items():
        assert card.device == card.ip == [UNKNOWN_ID] * len(card.ts)
        assert card.ts == original.cards[key].ts and card.amount == original.cards[key].amount
    # And the job goes on: the next events fold and encode (format 2).
    assert restored.apply(_events(40, 10)).card_rows
