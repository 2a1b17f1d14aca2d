"""Stream feature job snapshots: size, write time and load time for a state of N cards.

Run: ``.venv/bin/python -m benchmarks.bench_checkpoint [--cards 20000] [--per-card 20]``.
The state is built by folding synthetic transactions (``--per-card`` each, over
30 days, on 2,000 terminals) through the job's own ``StateFolder``; the
snapshot is written to and read from a local folder, as the embedded default.
"""

from __future__ import annotations

import argparse
import random
import tempfile
import time
from pathlib import Path

from fraudlens.features.checkpoint import check_compatible, decode, encode, load_into
from fraudlens.features.fold import StateFolder
from fraudlens.features.snapshots import LocalSnapshotStore
from fraudlens.features.state import US_PER_DAY, TxnEvent

T0 = 1_780_000_000 * 1_000_000


def _state(cards: int, per_card: int, delay_us: int) -> StateFolder:
    rng = random.Random(7)
    events = [
        TxnEvent(
            f"tx{i}",
            T0 + rng.randrange(30 * US_PER_DAY),
            f"tok_{rng.randrange(cards):012x}",
            f"term{rng.randrange(2000)}",
            f"mer{rng.randrange(500)}",
            "FR",
            round(rng.lognormvariate(3.5, 1.0), 2),
            rng.uniform(-60, 60),
            rng.uniform(-120, 120),
        )
        for i in range(cards * per_card)
    ]
    folder = StateFolder(delay_us)
    folder.apply(events)
    return folder


def main(argv: list[str] | None = None) -> dict[str, float]:
    """Print and return the snapshot figures."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--cards", type=int, default=20_000, help="cards in the state")
    parser.add_argument("--per-card", type=int, default=20, help="transactions per card")
    args = parser.parse_args(argv)
    delay_us = 120 * US_PER_DAY
    folder = _state(args.cards, args.per_card, delay_us)
    with tempfile.TemporaryDirectory() as tmp:
        store = LocalSnapshotStore(Path(tmp))
        start = time.perf_counter()
        store.write("s.snap", encode(folder, {"offsets": [], "watermark_us": 0}))
        written = time.perf_counter() - start
        size = (Path(tmp) / "s.snap").stat().st_size
        start = time.perf_counter()
        header, body = decode(store.read("s.snap"))
        restored = StateFolder(delay_us)
        check_compatible(header, restored, "s.snap")
        load_into(restored, body)
        loaded = time.perf_counter() - start
    figures = {
        "cards": float(len(restored.cards)),
        "events": float(args.cards * args.per_card),
        "snapshot_mb": size / 1e6,
        "write_s": written,
        "load_s": loaded,
    }
    for name, value in figures.items():
        print(f"{name:>12}: {value:,.3f}")
    return figures


if __name__ == "__main__":
    main()
