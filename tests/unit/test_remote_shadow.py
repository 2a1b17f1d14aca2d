"""The ingress's shadow sender: batches leave on the replica's event loop, never on the timer."""

from __future__ import annotations

import asyncio
import threading
from typing import Any

from transactions import make_txn as txn

from fraudlens.scoring import ScoringConfig, ScoringService
from fraudlens.scoring.fakes import FakeFeatures, FakeLoader, FakeModel
from fraudlens.scoring.scorer import Scorer
from ray_apps.deployments import RemoteShadow


class FakeHandle:
    """Records where ``score.remote`` was called, like a Serve handle whose router is on a loop."""

    def __init__(self) -> None:
        self.calls: list[tuple[int, bool]] = []
        self.score = self

    def remote(self, batch: Any) -> None:
        try:
            asyncio.get_running_loop()
            on_loop = True
        except RuntimeError:
            on_loop = False
        self.calls.append((len(batch.txns), on_loop))


def test_batches_are_merged_and_sent_on_the_event_loop() -> None:
    features = FakeFeatures({})
    service = ScoringService(
        FakeLoader([FakeModel("1")], {"champion": "1"}), features, scorer=Scorer(features)
    )
    service.apply_config(ScoringConfig())
    handle = FakeHandle()
    shadow = RemoteShadow(handle, interval_s=0)  # type: ignore[arg-type]

    async def requests() -> None:
        for i in range(3):
            shadow.submit(service.scorer.score([txn(2 * i), txn(2 * i + 1)], service.active))
        timer = threading.Thread(target=shadow.flush)  # what the timer thread does
        timer.start()
        await asyncio.to_thread(timer.join)
        await asyncio.sleep(0)  # let the loop run the send

    asyncio.run(requests())
    shadow.close()
    service.close()
    assert handle.calls == [(6, True)]
