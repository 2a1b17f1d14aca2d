"""Where the stream job writes state rows: Parquet (offline) then Feast push (online).

Push mode is ONLINE: the online store gets the newest row per entity of each
micro-batch through ``FeatureStore.push``. Every row also goes to the offline
store as an appended Parquet file (see ``fraudlens.features.offline`` for why
not ``push(to=OFFLINE)``). Both writes are idempotent, so a batch written
again after a restart changes nothing.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Any

from fraudlens.errors import FeatureStoreError
from fraudlens.features.fold import FoldResult
from fraudlens.features.offline import View, rows_to_table, view_key, write_table

logger = logging.getLogger(__name__)

PUSH_SOURCES: dict[View, str] = {
    "card_state": "card_state_push",
    "terminal_state": "terminal_state_push",
}


class FeastSink:
    """Writes folded state rows to the offline folder and the online store.

    Args:
        store: a ``feast.FeatureStore``.
        offline_root: the offline Parquet folder; None skips offline writes.
        prefix: file name prefix of this writer's Parquet files.
    """

    def __init__(self, store: Any, offline_root: Path | None, prefix: str) -> None:
        self.store = store
        self.offline_root = offline_root
        self.prefix = prefix
        self.last_offline_seconds = 0.0
        self.last_push_seconds = 0.0

    def write(self, result: FoldResult, *, offline: bool = True) -> dict[View, tuple[int, int]]:
        """Write one micro-batch; returns (offline rows, online rows) per view.

        Raises:
            FeatureStoreError: the push failed (nothing is committed then).
        """
        counts: dict[View, tuple[int, int]] = {}
        self.last_offline_seconds = self.last_push_seconds = 0.0
        views: dict[View, list[dict[str, Any]]] = {
            "card_state": result.card_rows,
            "terminal_state": result.terminal_rows,
        }
        for view, rows in views.items():
            if not rows:
                continue
            written = 0
            t0 = time.perf_counter()
            if offline and self.offline_root is not None:
                write_table(self.offline_root, view, rows_to_table(view, rows), self.prefix)
                written = len(rows)
            t1 = time.perf_counter()
            latest = FoldResult.latest(rows, view_key(view))
            self.push(view, latest)
            self.last_offline_seconds += t1 - t0
            self.last_push_seconds += time.perf_counter() - t1
            counts[view] = (written, len(latest))
        return counts

    def push(self, view: View, rows: list[dict[str, Any]]) -> None:
        """Push rows (one per entity) to the online store."""
        from feast.data_source import PushMode

        if not rows:
            return
        frame = rows_to_table(view, rows).to_pandas()
        try:
            self.store.push(PUSH_SOURCES[view], frame, to=PushMode.ONLINE)
        except Exception as exc:
            raise FeatureStoreError(f"push to {PUSH_SOURCES[view]} failed: {exc}") from exc
