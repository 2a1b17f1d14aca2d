"""Where the stream job writes state rows: Parquet (offline) then Feast push (online).

Push mode is ONLINE: the online store gets the newest row per entity of each
micro-batch through ``FeatureStore.push``. Every row also goes to the offline
store as an appended Parquet file (see ``fraudlens.features.offline`` for why
not ``push(to=OFFLINE)``). Both writes are idempotent, so a batch written
again after a restart changes nothing, and a push that fails on a transient
error (a Redis restart) is retried with backoff (``fraudlens.features.retry``)
before the job gives up.

With offline writes on, the transactions of the micro-batch also get their
feature rows (``fraudlens.features.transaction_rows``), computed from the
batch's state rows at their times: the rows training reads through Feast.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Any

from fraudlens.errors import FeatureStoreError
from fraudlens.features.fold import FoldResult
from fraudlens.features.metrics import StreamMetrics
from fraudlens.features.offline import View, rows_to_table, view_key, write_table
from fraudlens.features.retry import RetryPolicy
from fraudlens.features.state import CARD_KEY, STATE_TS, TERMINAL_KEY
from fraudlens.features.transaction_rows import TXN_VIEW, rows_from_states

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
        retry: retries of a failed online push (defaults: ``RetryPolicy()``).
        metrics: counts the retries in ``online_write_retries``, if given.
    """

    def __init__(
        self,
        store: Any,
        offline_root: Path | None,
        prefix: str,
        *,
        retry: RetryPolicy | None = None,
        metrics: StreamMetrics | None = None,
    ) -> None:
        self.store = store
        self.offline_root = offline_root
        self.prefix = prefix
        self.retry = retry or RetryPolicy()
        self.metrics = metrics
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
        if offline and self.offline_root is not None and result.transactions:
            t0 = time.perf_counter()
            self.write_transaction_rows(result)
            self.last_offline_seconds += time.perf_counter() - t0
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

    def write_transaction_rows(self, result: FoldResult) -> int:
        """Add the feature rows of the batch's transactions to the offline folder."""
        assert self.offline_root is not None
        cards = {(row[CARD_KEY], row[STATE_TS]): row for row in result.card_rows}
        terminals = {(row[TERMINAL_KEY], row[STATE_TS]): row for row in result.terminal_rows}
        table = rows_from_states(
            result.transactions,
            cards,
            terminals,
            matured_delay_days=result.matured_delay_days,
        )
        write_table(self.offline_root, TXN_VIEW, table, self.prefix)
        rows: int = table.num_rows
        return rows

    def push(self, view: View, rows: list[dict[str, Any]]) -> None:
        """Push rows (one per entity) to the online store, retrying transient errors.

        Raises:
            FeatureStoreError: the push failed on a non-transient error, or on
                every attempt of ``self.retry``.
        """
        from feast.data_source import PushMode

        if not rows:
            return
        frame = rows_to_table(view, rows).to_pandas()
        source = PUSH_SOURCES[view]
        try:
            self.retry.call(
                f"push to {source}",
                lambda: self.store.push(source, frame, to=PushMode.ONLINE),
                on_retry=self._count_retry,
            )
        except Exception as exc:
            raise FeatureStoreError(f"push to {source} failed: {exc}") from exc

    def _count_retry(self) -> None:
        if self.metrics is not None:
            self.metrics.online_write_retries.inc()
