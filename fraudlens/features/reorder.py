"""Event-time reordering across partitions and topics (a watermark buffer).

Kafka orders events within a partition only. Card transactions come from
several partitions and labels from another topic, so the stream job buffers
events and releases them in event-time order once no partition can still
deliver an earlier one.

Watermark: each partition's clock is the latest event time it delivered. The
watermark is the smallest clock among *active* partitions; events strictly
before it are released. A partition turns idle when it delivered nothing for
``idle_seconds`` *and* during ``quiet_polls`` polls that drained the
consumer's queue (so a backlog being caught up, or a starved process, never
makes a partition look idle). When every partition is idle, everything is released. An event
that arrives with a time at or below the released watermark is *late*: it is
released at once and counted (its entity's stored rows may then lag it).

Offsets: ``commit_offsets`` gives, per partition, the offset after the last
event that was released, never past an event still buffered, so a crash
never skips an event that was read but not yet applied.
"""

from __future__ import annotations

import heapq
import itertools
from collections import deque
from dataclasses import dataclass, field
from typing import Generic, TypeVar

T = TypeVar("T")
Partition = tuple[str, int]


@dataclass
class _PartitionState:
    clock_us: int = -1
    last_seen: float = float("-inf")
    quiet: int = 0  # draining polls without a message from this partition
    pending: deque[int] = field(default_factory=deque)  # offsets in arrival order
    released: set[int] = field(default_factory=set)
    next_offset: int | None = None  # commit point after fully released offsets


class Reorderer(Generic[T]):
    """Buffers items by event time and releases them in order.

    Args:
        idle_seconds: a partition silent for this long (and ``quiet_polls``
            draining polls) no longer holds the watermark back.
        quiet_polls: see ``idle_seconds``.
    """

    def __init__(self, idle_seconds: float = 2.0, quiet_polls: int = 5) -> None:
        self.idle_seconds = idle_seconds
        self.quiet_polls = quiet_polls
        self._heap: list[tuple[int, int, Partition, int, T]] = []
        self._seq = itertools.count()
        self._parts: dict[Partition, _PartitionState] = {}
        self.released_watermark_us = -1
        self.late = 0

    def __len__(self) -> int:
        return len(self._heap)

    def add(self, part: Partition, offset: int, time_us: int, item: T, now: float) -> None:
        """Buffer one item read at ``offset`` of ``part`` at wall time ``now``."""
        state = self._parts.setdefault(part, _PartitionState())
        state.clock_us = max(state.clock_us, time_us)
        state.last_seen = now
        state.quiet = 0
        state.pending.append(offset)
        if time_us <= self.released_watermark_us:
            self.late += 1
        heapq.heappush(self._heap, (time_us, next(self._seq), part, offset, item))

    def assign(self, parts: list[Partition], now: float) -> None:
        """Register newly assigned partitions: they hold the watermark until they
        deliver an event or stay silent for ``idle_seconds``."""
        for part in parts:
            self._parts[part] = _PartitionState(last_seen=now)

    def skip(self, part: Partition, offset: int, now: float) -> None:
        """Record an offset that carries no event (e.g. dead-lettered)."""
        state = self._parts.setdefault(part, _PartitionState())
        state.last_seen = now
        state.pending.append(offset)
        state.released.add(offset)

    def polled(self, drained: bool) -> None:
        """Record one poll; ``drained``: it returned less than a full batch."""
        if drained:
            for state in self._parts.values():
                state.quiet += 1

    def watermark(self, now: float) -> int | None:
        """Events strictly before this time may be released; None means all."""
        active = [
            s.clock_us
            for s in self._parts.values()
            if now - s.last_seen < self.idle_seconds or s.quiet < self.quiet_polls
        ]
        return min(active) if active else None

    def release(self, now: float) -> list[T]:
        """Pop every item that is safe to apply, in (time, arrival) order."""
        limit = self.watermark(now)
        out: list[T] = []
        heap = self._heap
        while heap and (limit is None or heap[0][0] < limit):
            time_us, _, part, offset, item = heapq.heappop(heap)
            self._parts[part].released.add(offset)
            self.released_watermark_us = max(self.released_watermark_us, time_us)
            out.append(item)
        if limit is not None:
            self.released_watermark_us = max(self.released_watermark_us, limit - 1)
        return out

    def commit_offsets(self) -> dict[Partition, int]:
        """Per partition, the next offset to read after a crash (all before it applied)."""
        out: dict[Partition, int] = {}
        for part, state in self._parts.items():
            while state.pending and state.pending[0] in state.released:
                offset = state.pending.popleft()
                state.released.discard(offset)
                state.next_offset = offset + 1
            if state.next_offset is not None:
                out[part] = state.next_offset
        return out

    def forget(self, parts: list[Partition]) -> None:
        """Drop revoked partitions and their buffered items."""
        gone = set(parts)
        for part in gone:
            self._parts.pop(part, None)
        self._heap = [entry for entry in self._heap if entry[2] not in gone]
        heapq.heapify(self._heap)
