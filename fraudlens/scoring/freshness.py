"""Feature freshness: how old the stored state behind the served vectors is.

The feature service returns on-demand features, which carry no event time,
so the age comes from the stored state rows themselves (``card_state`` and
``terminal_state``, written with the event time of their last update). Reading
them costs a second online read, so it is sampled off the request path: at
most one probe per ``every_s``, on a few rows of a batch just scored, on a
background thread. ``fraudlens_feature_age_seconds`` then holds one age per
stored row probed.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from fraudlens.schema import Transaction
from fraudlens.scoring.interfaces import FeatureSource
from fraudlens.scoring.metrics import ServingMetrics

logger = logging.getLogger(__name__)

# The one column of each state view (its blob): only its row's event time is used.
STATE_REFS = ("card_state:c_state", "terminal_state:t_state")
_TS = "__ts"  # Feast's suffix of event-time columns (OnlineResponse.to_dict)


class FeatureAgeProbe:
    """Samples the event time of the state rows behind transactions being scored.

    Args:
        store: returns the ``feast.FeatureStore`` (called on the probe thread).
        metrics: where ages are observed.
        every_s: at most one probe this often.
        max_rows: rows read per probe.
    """

    def __init__(
        self,
        store: Callable[[], Any],
        metrics: ServingMetrics,
        every_s: float = 1.0,
        max_rows: int = 32,
    ) -> None:
        self.store = store
        self.metrics = metrics
        self.every_s = every_s
        self.max_rows = max_rows
        self._next = 0.0
        self._busy = threading.Lock()
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="fraudlens-freshness")

    @classmethod
    def for_source(cls, features: FeatureSource, metrics: ServingMetrics) -> FeatureAgeProbe | None:
        """A probe over the Feast store behind ``features``; None for other sources."""
        from fraudlens.scoring.adapters import FeastFeatures

        if not isinstance(features, FeastFeatures):
            return None
        return cls(lambda: features.store, metrics)

    def submit(self, txns: Sequence[Transaction]) -> None:
        """Probe these rows in the background unless a probe ran recently."""
        now = time.monotonic()
        if not txns or now < self._next or not self._busy.acquire(blocking=False):
            return
        self._next = now + self.every_s
        try:
            self._pool.submit(self._run, list(txns[: self.max_rows]))
        except RuntimeError:  # closed
            self._busy.release()

    def _run(self, txns: list[Transaction]) -> None:
        try:
            self.probe(txns)
        except Exception as exc:  # a failed probe never matters to scoring
            logger.debug("feature age probe failed: %s", exc)
        finally:
            self._busy.release()

    def probe(self, txns: Sequence[Transaction]) -> list[float]:
        """Read the state rows of ``txns`` now; observe and return their ages (s)."""
        rows = [{"card_token": t.card_token, "terminal_id": t.terminal_id} for t in txns]
        response = self.store().get_online_features(features=list(STATE_REFS), entity_rows=rows)
        columns = response.to_dict(include_event_timestamps=True)
        now = time.time()
        ages = [
            now - stamp
            for name, stamps in columns.items()
            if name.endswith(_TS) and name[: -len(_TS)] in _FEATURES
            for stamp in stamps
            if stamp and stamp > 0  # 0: no stored row (a new card or terminal)
        ]
        self.metrics.feature_ages(ages)
        return ages

    def close(self) -> None:
        """Stop the probe thread."""
        self._pool.shutdown(wait=False, cancel_futures=True)


_FEATURES = {ref.split(":", 1)[1] for ref in STATE_REFS}
