"""Real stores for the erasure and rotation tests.

``populated(online_store)`` builds a data dir with three customers' data in
every store FraudLens keeps: the raw history (device/IP encrypted as the
importer writes them), the Feast offline store (state rows folded from the
transactions), the online store (the same rows pushed through Feast: SQLite
file or a private redis-server), the label store and the decision log (with
encrypted e-mails). Nothing is mocked.
"""

from __future__ import annotations

import base64
import os
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from fraudlens.features.fold import FoldResult, fold_card, fold_terminal
from fraudlens.features.offline import write_rows
from fraudlens.features.repo import apply, offline_path
from fraudlens.features.sink import FeastSink
from fraudlens.features.state import TxnEvent
from fraudlens.features.store import open_store
from fraudlens.redis_server import EmbeddedRedis
from fraudlens.security.encryption import field_context, keyring_from_settings
from fraudlens.security.personal_fields import encrypt_personal_fields
from fraudlens.settings import FeastSettings, SecuritySettings, Settings

pytestmark = pytest.mark.integration

KEY_1 = base64.b64encode(b"1" * 32).decode()
START = datetime(2026, 6, 1, tzinfo=UTC)
CUSTOMERS = {  # customer -> card tokens (C1 has two cards)
    "C1": ["tok_k1_" + "a" * 32, "tok_k1_" + "b" * 32],
    "C2": ["tok_k1_" + "c" * 32],
    "C3": ["tok_k1_" + "d" * 32],
}


@dataclass
class Stores:
    """A populated data dir and what was put in it."""

    settings: Settings
    transactions: pd.DataFrame

    def cards(self, customer: str) -> list[str]:
        return CUSTOMERS[customer]


@pytest.fixture(scope="session")
def private_redis(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A redis-server (no persistence) for this package's tests."""
    with EmbeddedRedis(tmp_path_factory.mktemp("security-redis")) as server:
        yield server.url


def _transactions() -> pd.DataFrame:
    rows = []
    for c_index, (customer, cards) in enumerate(sorted(CUSTOMERS.items())):
        for k in range(6):
            card = cards[k % len(cards)]
            rows.append(
                {
                    "transaction_id": f"t-{customer}-{k}",
                    "event_time": START + timedelta(hours=5 * k + c_index),
                    "customer_id": customer,
                    "card_token": card,
                    "terminal_id": f"term{k % 3}",
                    "merchant_id": f"mer{k}",
                    "country": "FR",
                    "amount": 10.0 + k + c_index,
                    "device_id": f"device-{customer}-{k}",
                    "ip_address": f"198.51.100.{10 * c_index + k}",
                }
            )
    return pd.DataFrame(rows)


def _events(frame: pd.DataFrame) -> list[TxnEvent]:
    return [
        TxnEvent(
            r.transaction_id,
            int(r.event_time.timestamp() * 1_000_000),
            r.card_token,
            r.terminal_id,
            r.merchant_id,
            r.country,
            r.amount,
        )
        for r in frame.itertuples()
    ]


@pytest.fixture
def populated(tmp_path: Path, private_redis: str) -> Callable[[str], Stores]:
    """``populated("sqlite" | "redis")``: every store filled for three customers."""

    def build(online_store: str) -> Stores:
        project = f"fl_sec_{os.getpid()}_{time.monotonic_ns() % 10**9}"
        settings = Settings(
            data_dir=tmp_path / online_store,
            feast=FeastSettings(
                online_store=online_store,  # type: ignore[arg-type]
                redis_connection_string=private_redis,
                project=project,
            ),
            security=SecuritySettings(encryption_keys={"k1": KEY_1}),  # type: ignore[arg-type]
        )
        apply(settings)
        ring = keyring_from_settings(settings)
        frame = _transactions()
        data = settings.data_dir
        (data / "import").mkdir(parents=True)
        encrypt_personal_fields(frame, ring).to_parquet(data / "import" / "transactions.parquet")

        events = _events(frame)
        cards = {e.card_token for e in events}
        card_rows = [
            r for c in sorted(cards) for r in fold_card(c, (e for e in events if e.card_token == c))
        ]
        terminals = sorted({e.terminal_id for e in events})
        terminal_rows = [
            r
            for t in terminals
            for r in fold_terminal(
                t, ((e.time_us, e.amount) for e in events if e.terminal_id == t), []
            )
        ]
        write_rows(offline_path(settings), "card_state", card_rows, "test")
        write_rows(offline_path(settings), "terminal_state", terminal_rows, "test")
        FeastSink(open_store(settings), None, "test").write(
            FoldResult(card_rows, terminal_rows), offline=False
        )

        ids = frame["transaction_id"].tolist()
        for folder, name, table in (
            ("labels", "part-0.parquet", "label_store"),
            ("decisions/date=2026-06-01", "part-0.parquet", "decision_log"),
        ):
            (data / folder).mkdir(parents=True)
            pq.write_table(
                pa.table(
                    {
                        "transaction_id": ids,
                        "card_token": frame["card_token"].tolist(),
                        "event_time": pa.array(
                            frame["event_time"].tolist(), pa.timestamp("us", "UTC")
                        ),
                        "customer_email": [
                            ring.encrypt(
                                f"{c.lower()}@example.org",
                                field_context(table, "customer_email", t),
                            )
                            for t, c in zip(ids, frame["customer_id"], strict=True)
                        ],
                    }
                ),
                data / folder / name,
            )
        return Stores(settings, frame)

    return build
