"""State checkpoints of the stream feature job: a restart reads only the topic tail.

A snapshot holds the job's whole ``StateFolder`` (per-entity state, the
transaction index labels are matched against, its event-time clock), the
released event-time watermark, and, for every assigned partition, the offset
to resume from: the watermark buffer's commit point. Every event before it is
in the state; an event after it may be too (released out of offset order): read
again, it is skipped as a duplicate.

Order of writes at a checkpoint (one loop turn of the job):

1. fold and write the released events (online push, offline rows);
2. write the snapshot atomically (temp file + rename, or one object PUT);
3. commit the same offsets to the consumer group.

Between checkpoints the job still commits after every micro-batch, so the
group's commit is usually ahead of the newest snapshot. On start the job loads
the newest snapshot and seeks to *its* offsets, never the group's: the state
of the events between the two exists only in the snapshot plus those events.
Those events were written before, so they are replayed into memory only
(``ReplayTracker``), then the newest row of every restored or replayed entity
is pushed once (so an online store that lost data heals). Crash windows:

* before 2 (or while 2 is half done): the previous snapshot is the newest
  complete one (a temp file is never listed); restart = replay from its
  offsets up to the group's commit, then normal processing. Same online store.
* between 2 and 3: the snapshot is ahead of the group's commit; the restart
  seeks to the snapshot's offsets, so nothing is applied twice and nothing is
  missed (those events were written in 1).
* after 3: the normal case.

When no snapshot can be used the job reads its partitions from the first
retained offset. If the topics no longer hold what the job needs (no
snapshot and records were deleted, or a snapshot older than the retention),
features over windows longer than the retained history would be wrong: the job
logs a warning naming the gap, or refuses to start
(``checkpoint.missing_history``).

Format: ``FLSNAP`` + uint16 format version + uint32 header length + JSON
header + zlib(pickle of the folder's attributes; a dict of one dataclass's
instances goes as columns, for speed). The state is pickled generically
(whatever attributes the folder and the dataclasses in it have),
and read back by an unpickler that accepts only dataclasses of
``fraudlens.features`` and plain containers. The header lists each dataclass
with its fields and the folder's attributes; a reader whose classes differ
refuses the snapshot with ``CheckpointError`` naming how to rebuild.

Names: ``features-<group>-<role>-<sequence>-<partition set digest>.snap``.
Each member restores the newest snapshot of exactly its partition set, and
keeps ``checkpoint.keep`` per set. A member whose partitions no snapshot
covers (the first start, or after the group was resized) rebuilds from the
topics as above. Snapshots hold card tokens, never card numbers.
"""

from __future__ import annotations

import dataclasses
import hashlib
import importlib
import io
import json
import logging
import pickle
import re
import struct
import time
import zlib
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from confluent_kafka import KafkaException, TopicPartition

from fraudlens.errors import BrokerError, FraudLensError
from fraudlens.features.fold import StateFolder
from fraudlens.features.online_ids import UNKNOWN_ID
from fraudlens.features.reorder import Partition
from fraudlens.features.snapshots import SUFFIX, SnapshotStore
from fraudlens.features.state import TERMINAL_RETENTION_DAYS, CardState

if TYPE_CHECKING:
    from confluent_kafka import Consumer

    from fraudlens.settings import CheckpointSettings

logger = logging.getLogger(__name__)

MAGIC = b"FLSNAP"
FORMAT_VERSION = 1
_FIXED = struct.Struct("<HI")
REBUILD = (
    "start the job once with `fraudlens stream features --no-snapshot` (rebuilds the state "
    "from the topics; complete only while they still hold 31 days plus the label delay) or "
    "delete the snapshots under checkpoint.url"
)
_SAFE_GLOBALS = {("collections", "deque")}
_PACKED = "__fraudlens_packed_dataclasses__"
# Card states of snapshots from before devices and IPs were kept, by their
# fields then: restored with every earlier device and IP unknown, as a card
# blob of format 1 is read (``state_codec``), never as "no device".
_CARD = f"{CardState.__module__}:{CardState.__qualname__}"
_CARD_BEFORE_IDS = [f.name for f in dataclasses.fields(CardState) if f.name not in ("device", "ip")]


class CheckpointError(FraudLensError):
    """A snapshot cannot be used, or the topics lack the history the job needs."""


class CorruptSnapshotError(CheckpointError):
    """A snapshot's bytes do not match its checksum (truncated or damaged)."""


@dataclass
class Restored:
    """What a loaded snapshot gives the job."""

    name: str
    offsets: dict[Partition, int]
    watermark_us: int


# -- format -------------------------------------------------------------------


class _Pickler(pickle.Pickler):
    """Records every dataclass it meets, with its fields (the header's ``classes``)."""

    def __init__(self, file: io.BytesIO) -> None:
        super().__init__(file, protocol=5)
        self.classes: dict[str, list[str]] = {}

    def reducer_override(self, obj: Any) -> Any:
        if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
            cls = type(obj)
            self.classes[f"{cls.__module__}:{cls.__qualname__}"] = _fields(cls)
        return NotImplemented


class _Unpickler(pickle.Unpickler):
    """Only dataclasses of fraudlens.features and plain containers: nothing executable."""

    def find_class(self, module: str, name: str) -> Any:
        return _allowed_class(module, name)


def _fields(cls: type) -> list[str]:
    return [f.name for f in dataclasses.fields(cls)]


def _allowed_class(module: str, name: str) -> Any:
    if (module, name) in _SAFE_GLOBALS:
        return getattr(importlib.import_module(module), name)
    if module.startswith("fraudlens.features.") and name.isidentifier():
        cls = getattr(importlib.import_module(module), name, None)
        if isinstance(cls, type) and dataclasses.is_dataclass(cls):
            return cls
    raise CheckpointError(f"a snapshot may not hold {module}.{name}; {REBUILD}")


def encode(folder: StateFolder, meta: dict[str, Any]) -> bytes:
    """A snapshot of ``folder`` with ``meta`` (offsets, watermark...) in its header."""
    buf = io.BytesIO()
    pickler = _Pickler(buf)
    packed: dict[str, list[str]] = {}
    pickler.dump({name: _pack(value, packed) for name, value in vars(folder).items()})
    body = zlib.compress(buf.getvalue(), 1)
    header = {
        **meta,
        "format": FORMAT_VERSION,
        "classes": {**pickler.classes, **packed},
        "attributes": sorted(vars(folder)),
        "max_label_delay_us": folder.max_label_delay_us,
        "terminal_retention_days": folder.retention_days,
        "body_sha256": hashlib.sha256(body).hexdigest(),
    }
    head = json.dumps(header, sort_keys=True).encode()
    return MAGIC + _FIXED.pack(FORMAT_VERSION, len(head)) + head + body


def decode(data: bytes, name: str = "<snapshot>") -> tuple[dict[str, Any], bytes]:
    """The header and the compressed body of a snapshot.

    Raises:
        CheckpointError: not a snapshot, or another format version.
        CorruptSnapshotError: the body does not match the header's checksum.
    """
    start = len(MAGIC) + _FIXED.size
    if not data.startswith(MAGIC) or len(data) < start:
        raise CorruptSnapshotError(f"{name} is not a FraudLens state snapshot")
    version, size = _FIXED.unpack_from(data, len(MAGIC))
    if version != FORMAT_VERSION:
        raise CheckpointError(
            f"snapshot {name} has format version {version}, this release reads "
            f"{FORMAT_VERSION}: {REBUILD}"
        )
    try:
        header = json.loads(data[start : start + size])
    except ValueError as exc:
        raise CorruptSnapshotError(f"snapshot {name} has a damaged header") from exc
    body = data[start + size :]
    if hashlib.sha256(body).hexdigest() != header.get("body_sha256"):
        raise CorruptSnapshotError(f"snapshot {name} is damaged (checksum mismatch)")
    return header, body


def state_bytes(body: bytes) -> bytes:
    """The uncompressed pickled state of a body (what a PAN scan must read)."""
    return zlib.decompress(body)


def check_compatible(header: dict[str, Any], folder: StateFolder, name: str) -> None:
    """Refuse a snapshot whose state classes or settings differ from this release's."""
    for qualified, fields in header["classes"].items():
        module, _, cls_name = qualified.partition(":")
        current = _fields(_allowed_class(module, cls_name))
        if current != fields and not (qualified == _CARD and fields == _CARD_BEFORE_IDS):
            raise CheckpointError(
                f"snapshot {name} holds {qualified} with fields {fields}, this release has "
                f"{current}: {REBUILD}"
            )
    if header["attributes"] != sorted(vars(folder)):
        raise CheckpointError(
            f"snapshot {name} holds a state with attributes {header['attributes']}, this "
            f"release has {sorted(vars(folder))}: {REBUILD}"
        )
    if header["max_label_delay_us"] != folder.max_label_delay_us:
        raise CheckpointError(
            f"snapshot {name} was built with another feast.max_label_delay_days: {REBUILD}"
        )
    # Snapshots from before the setting kept the default delay's 38 days.
    retention = header.get("terminal_retention_days", TERMINAL_RETENTION_DAYS)
    if retention != folder.retention_days:
        raise CheckpointError(
            f"snapshot {name} keeps {retention} days of terminal state, "
            f"features.matured_delay_days needs {folder.retention_days}: {REBUILD}"
        )


def load_into(folder: StateFolder, body: bytes) -> None:
    """Replace ``folder``'s state by a snapshot body (checked by ``check_compatible``)."""
    state = _Unpickler(io.BytesIO(state_bytes(body))).load()
    if not isinstance(state, dict):
        raise CheckpointError(f"a snapshot body must hold a dict; {REBUILD}")
    vars(folder).update({name: _unpack(value) for name, value in state.items()})


def _pack(value: Any, classes: dict[str, list[str]]) -> Any:
    """A dict of one dataclass's instances as columns (pickles several times faster
    than one object at a time); anything else as it is."""
    if not isinstance(value, dict) or not value:
        return value
    cls = type(next(iter(value.values())))
    if not dataclasses.is_dataclass(cls) or any(type(v) is not cls for v in value.values()):
        return value
    fields = dataclasses.fields(cls)
    if not fields or not all(f.init for f in fields):
        return value
    qualified = f"{cls.__module__}:{cls.__qualname__}"
    classes[qualified] = [f.name for f in fields]
    items = list(value.values())
    columns = [[getattr(item, f.name) for item in items] for f in fields]
    return (_PACKED, qualified, list(value), columns)


def _unpack(value: Any) -> Any:
    if not (isinstance(value, tuple) and len(value) == 4 and value[0] == _PACKED):
        return value
    _, qualified, keys, columns = value
    module, _, name = qualified.partition(":")
    cls = _allowed_class(module, name)
    if qualified == _CARD and len(columns) == len(_CARD_BEFORE_IDS):
        unknown = [[UNKNOWN_ID] * len(ts) for ts in columns[0]]
        columns = [*columns, unknown, [list(u) for u in unknown]]
    return dict(zip(keys, map(cls, *columns), strict=True))


# -- history on the topics ------------------------------------------------------


def check_history(
    consumer: Consumer, starts: dict[Partition, int | None], mode: str, restored: str | None
) -> dict[Partition, int]:
    """Each partition's first retained offset; warn or refuse where older records are gone.

    Args:
        consumer: the job's consumer.
        starts: per partition, the offset the state needs next (None: the very start).
        mode: ``checkpoint.missing_history`` ("warn" or "refuse").
        restored: the snapshot loaded, if any (for the message).

    Raises:
        CheckpointError: records the state needs were deleted and mode is "refuse".
        BrokerError: the broker did not answer.
    """
    lows: dict[Partition, int] = {}
    gaps: list[str] = []
    for part, start in starts.items():
        try:
            low, _ = consumer.get_watermark_offsets(TopicPartition(*part), timeout=10, cached=False)
        except KafkaException as exc:
            raise BrokerError(f"cannot read the offsets of {part[0]}[{part[1]}]: {exc}") from exc
        lows[part] = low
        needed = start or 0
        if low > needed:
            gaps.append(f"{part[0]}[{part[1]}] needs offset {needed}, first retained is {low}")
    if gaps:
        source = f"snapshot {restored}" if restored else "no snapshot"
        message = (
            f"the topics no longer hold the history the feature state needs ({source}; "
            f"{'; '.join(gaps)}): features over windows longer than the retained history "
            "(card windows up to 30 days, terminal fraud counts) are incomplete until the job "
            "has read that much new history"
        )
        if mode == "refuse":
            raise CheckpointError(
                f"{message}. Restore a snapshot (checkpoint.url), backfill, or set "
                "FRAUDLENS_CHECKPOINT__MISSING_HISTORY=warn to start anyway"
            )
        logger.warning(message)
    return lows


# -- the job's checkpointer ----------------------------------------------------------


class Checkpointer:
    """Loads the newest snapshot on start and writes new ones periodically.

    Args:
        config: ``settings.checkpoint``.
        store: where snapshots live.
        group_id: the job's consumer group (part of the snapshot names).
        role: the job's role (part of the names too).
        load: restore from the newest snapshot (False: ``--no-snapshot``).
    """

    def __init__(
        self,
        config: CheckpointSettings,
        store: SnapshotStore,
        *,
        group_id: str,
        role: str,
        load: bool = True,
    ) -> None:
        self.config = config
        self.store = store
        self.group_id = group_id
        self.role = role
        self.prefix = f"features-{re.sub(r'[^A-Za-z0-9_.]+', '_', group_id)}-{role}-"
        self.positions: dict[Partition, int] = {}  # where the state in memory resumes
        self.assigned: set[Partition] = set()
        self._load = load
        self._last = (time.monotonic(), 0)  # (when, applied) of the last snapshot
        self._seq = 0
        self.written: list[str] = []

    def assign(
        self, consumer: Consumer, folder: StateFolder, parts: list[Partition]
    ) -> tuple[dict[Partition, int], int | None]:
        """Start offsets of newly assigned partitions (restoring the snapshot the first
        time) and the restored watermark (None when nothing was restored)."""
        restored = None
        if self._load:
            restored = self._restore(folder, parts)
            if restored is not None:
                self._load = False
                self.positions.update(restored.offsets)
        starts = {p: self.positions.get(p) for p in parts}
        lows = check_history(
            consumer,
            starts,
            self.config.missing_history,
            restored.name if restored else None,
        )
        self.assigned.update(parts)
        out = {p: (o if o is not None else lows[p]) for p, o in starts.items()}
        self.positions.update(out)
        return out, (restored.watermark_us if restored else None)

    def revoke(self, parts: list[Partition]) -> None:
        """Partitions this member no longer owns."""
        self.assigned.difference_update(parts)

    def _restore(self, folder: StateFolder, parts: list[Partition]) -> Restored | None:
        ending = f"-{_digest(parts)}{SUFFIX}"
        for name in reversed([n for n in self.store.names(self.prefix) if n.endswith(ending)]):
            try:
                header, body = decode(self.store.read(name), name)
            except CorruptSnapshotError as exc:
                logger.warning("%s: trying the previous snapshot", exc)
                continue
            offsets = {(t, p): o for t, p, o in header["offsets"]}
            check_compatible(header, folder, name)
            load_into(folder, body)
            logger.info(
                "feature state restored from snapshot %s in %s (%d cards, %d terminals)",
                name,
                self.store.describe(),
                len(folder.cards),
                len(folder.terminals),
            )
            return Restored(name, offsets, int(header["watermark_us"]))
        logger.info(
            "no state snapshot of partitions %s in %s", sorted(parts), self.store.describe()
        )
        return None

    def advance(self, commit_points: dict[Partition, int]) -> None:
        """Record the buffer's commit points (every event before them is in the state)."""
        if commit_points:
            self._load = False  # events applied: a snapshot would now overwrite them
        self.positions.update({p: o for p, o in commit_points.items() if p in self.assigned})

    def due(self, applied: int, now: float, *, final: bool = False) -> bool:
        """Whether enough time or events passed since the last snapshot (``final``:
        whether any event was applied since)."""
        when, count = self._last
        if applied == count or final:
            return applied != count
        return (
            applied - count >= self.config.every_messages or now - when >= self.config.every_seconds
        )

    def save(self, folder: StateFolder, watermark_us: int, applied: int, now: float) -> str | None:
        """Write a snapshot of ``folder`` at the current positions, then prune old ones.

        A failed write is logged and skipped: the previous snapshot stays valid
        (a restart replays more).
        """
        if not self.assigned:
            return None
        self._seq = max(self._seq + 1, time.time_ns())
        ending = f"-{_digest(self.assigned)}{SUFFIX}"
        name = f"{self.prefix}{self._seq:020d}{ending}"
        meta = {
            "group_id": self.group_id,
            "role": self.role,
            "created_at": datetime.now(UTC).isoformat(),
            "offsets": [[t, p, self.positions[(t, p)]] for t, p in sorted(self.assigned)],
            "watermark_us": watermark_us,
        }
        try:
            self.store.write(name, encode(folder, meta))
        except (OSError, FraudLensError) as exc:
            logger.warning("state snapshot %s not written (%s): a restart replays more", name, exc)
            return None
        self._last = (now, applied)
        self.written.append(name)
        logger.info("state snapshot %s written to %s", name, self.store.describe())
        self._prune(ending)
        return name

    def _prune(self, ending: str) -> None:
        names = [n for n in self.store.names(self.prefix) if n.endswith(ending)]
        for old in names[: max(0, len(names) - self.config.keep)]:
            try:
                self.store.delete(old)
            except OSError as exc:
                logger.warning("old snapshot %s not deleted: %s", old, exc)


def _digest(parts: Iterable[Partition]) -> str:
    """A short stable name of a partition set."""
    text = json.dumps(sorted(parts))
    return hashlib.sha256(text.encode()).hexdigest()[:12]
