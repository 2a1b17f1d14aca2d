"""Restart by replay: which events only rebuild memory, and when replay is over.

On assignment the job reads each partition from its beginning. Events before
the group's committed offset were applied and written before the restart, so
they rebuild state without being written again; once every partition has
passed its old commit, the newest state of every entity they touched is
pushed once (so an online store that lost data heals too).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from fraudlens.features.fold import FoldResult
from fraudlens.features.reorder import Partition
from fraudlens.features.state import CARD_KEY, TERMINAL_KEY


class ReplayTracker:
    """Per-partition replay marks and the entities touched while replaying."""

    def __init__(self) -> None:
        self._until: dict[Partition, int] = {}
        self.cards: set[str] = set()
        self.terminals: set[str] = set()

    def assigned(self, committed: Iterable[tuple[Partition, int]]) -> None:
        """Record the committed offsets of newly assigned partitions (<0: none)."""
        for part, offset in committed:
            self._until[part] = max(offset, 0)

    def revoked(self, parts: Iterable[Partition]) -> None:
        """Forget revoked partitions."""
        for part in parts:
            self._until.pop(part, None)

    def is_replay(self, part: Partition, offset: int) -> bool:
        """Whether the event at ``offset`` was applied before the restart."""
        return offset < self._until.get(part, 0)

    def replayed(self, result: FoldResult) -> None:
        """Remember the entities a replayed run of events changed."""
        self.cards.update(row[CARD_KEY] for row in result.card_rows)
        self.terminals.update(row[TERMINAL_KEY] for row in result.terminal_rows)

    def advance(self, commit_points: Mapping[Partition, int]) -> None:
        """Partitions whose commit point reached the old commit are done replaying."""
        for part, offset in commit_points.items():
            if offset >= self._until.get(part, 0):
                self._until[part] = 0

    @property
    def replaying(self) -> bool:
        """Whether some partition is still below its old commit."""
        return any(self._until.values())

    def take_finished(self) -> tuple[set[str], set[str]] | None:
        """The touched (cards, terminals) once replay is over everywhere, else None."""
        if self.replaying or not (self.cards or self.terminals):
            return None
        touched = (self.cards, self.terminals)
        self.cards, self.terminals = set(), set()
        return touched
