"""The fold's incremental blobs are byte-for-byte the full encoding of each state."""

from __future__ import annotations

import random

from hypothesis import given, settings
from hypothesis import strategies as st

from fraudlens.features.fold import LabelEvent, StateFolder
from fraudlens.features.state import (
    CARD_BLOB,
    CARD_KEY,
    CARD_RETENTION_US,
    STATE_TS,
    US_PER_DAY,
    CardState,
    FraudMark,
    TerminalState,
    TxnEvent,
    update_card,
    update_terminal_fraud,
    update_terminal_txn,
)
from fraudlens.features.state_codec import encode_card, encode_terminal
from fraudlens.features.state_encoder import CardBlobs, TerminalBlobs

# A few names shared by the three string columns (a terminal id may also be
# a merchant id or a country), non-ASCII and empty ones included.
NAMES = st.sampled_from(["t1", "t2", "m1", "FR", "", "é", "t1m1", "ß€"])
# Times over ~45 days so evictions happen; an event may come late (out of order).
TIME = st.integers(0, CARD_RETENTION_US + 14 * US_PER_DAY)


@st.composite
def txn_events(draw: st.DrawFn) -> list[TxnEvent]:
    n = draw(st.integers(1, 60))
    times = draw(st.lists(TIME, min_size=n, max_size=n))
    if draw(st.booleans()):
        times.sort()  # mostly in order, as a stream runs
    return [
        TxnEvent(
            f"x{i}",
            t,
            "card",
            draw(NAMES),
            draw(NAMES),
            draw(NAMES),
            draw(st.floats(allow_nan=True, allow_infinity=True)),
            draw(st.sampled_from([0.5, -12.25, 999.0, float("nan")])),
            draw(st.sampled_from([1.5, 999.0])),
            draw(st.sampled_from([0, -1, 7, 2**63 - 1])),  # device code
            draw(st.sampled_from([0, 3])),  # IP code
        )
        for i, t in enumerate(times)
    ]


@settings(max_examples=300, deadline=None)
@given(txn_events())
def test_card_blobs_equal_the_full_encoding_after_every_event(events: list[TxnEvent]) -> None:
    blobs = CardBlobs()
    state: CardState | None = None
    for event in events:
        new = update_card(state, event)
        assert blobs.after("card", state, new, event) == encode_card(new)
        state = new


def test_card_blobs_encode_a_state_replaced_from_outside_from_scratch() -> None:
    # A snapshot restore puts other state objects in the folder: the cache must
    # not apply an event to the blob of a state it did not encode.
    blobs = CardBlobs()
    first = TxnEvent("a", 10, "card", "t1", "m1", "FR", 1.0)
    state = update_card(None, first)
    blobs.after("card", None, state, first)
    restored = update_card(update_card(None, first), TxnEvent("b", 20, "card", "t2", "m2", "DE", 2))
    event = TxnEvent("c", 30, "card", "t1", "m1", "FR", 3.0)
    new = update_card(restored, event)
    assert blobs.after("card", restored, new, event) == encode_card(new)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.booleans(), TIME, st.integers(0, 40 * US_PER_DAY)), max_size=80))
def test_terminal_blobs_equal_the_full_encoding_after_every_event(
    steps: list[tuple[bool, int, int]],
) -> None:
    blobs = TerminalBlobs()
    state: TerminalState | None = None
    for i, (is_txn, time_us, delay) in enumerate(steps):
        if is_txn:
            state = update_terminal_txn(state, time_us, 12.34)
        else:
            mark = FraudMark(f"x{i}", "term", time_us + delay, time_us)
            state = update_terminal_fraud(state, mark)
        assert blobs.blob("term", state) == encode_terminal(state)


def test_a_transaction_leaves_the_fraud_marks_untouched() -> None:
    mark = FraudMark("x", "term", 2 * US_PER_DAY, US_PER_DAY)
    state = update_terminal_fraud(update_terminal_txn(None, US_PER_DAY, 5.0), mark)
    new = update_terminal_txn(state, 3 * US_PER_DAY, 7.0)
    assert new.fraud_label_us is state.fraud_label_us
    assert (state.day, state.tx) == ([1], [1])  # the input is not modified
    assert (new.day, new.tx, new.fraud_day) == ([1, 3], [1, 1], [1])


def _stream(seed: int, batches: int = 12, size: int = 150) -> list[list[TxnEvent | LabelEvent]]:
    """Micro-batches of transactions on 40 cards and 15 terminals over ~50 days
    (a few late), with fraud labels arriving days after some of them."""
    rng = random.Random(seed)
    out: list[list[TxnEvent | LabelEvent]] = []
    clock = 0
    for b in range(batches):
        batch: list[TxnEvent | LabelEvent] = []
        for i in range(size):
            clock += rng.randrange(0, 2 * 50 * US_PER_DAY // (batches * size))
            late = rng.random() < 0.05
            txn = TxnEvent(
                f"x{b}-{i}",
                clock - (rng.randrange(US_PER_DAY) if late else 0),
                f"card{rng.randrange(40)}",
                f"t{rng.randrange(15)}",
                f"m{rng.randrange(25)}",
                rng.choice(["FR", "DE", "ES", "é"]),
                round(rng.uniform(1, 500), 2),
            )
            batch.append(txn)
            if rng.random() < 0.1:
                label_us = txn.time_us + rng.randrange(1, 5 * US_PER_DAY)
                batch.append(LabelEvent(txn.transaction_id, label_us, rng.random() < 0.7))
        out.append(batch)
    return out


def test_a_tiny_encoder_cache_gives_the_same_rows_as_an_unbounded_one() -> None:
    unbounded = StateFolder(30 * US_PER_DAY)
    tiny = {bound: StateFolder(30 * US_PER_DAY, encoder_cache_entities=bound) for bound in (1, 3)}
    for batch in _stream(seed=5):
        expected = unbounded.apply(batch)
        for bound, folder in tiny.items():
            assert folder.apply(batch) == expected
            assert len(folder._card_blobs) == bound and len(folder._terminal_blobs) == bound
    assert len(unbounded._card_blobs) == 40 and len(unbounded._terminal_blobs) == 15
    # ... and both are the full encoding of the newest states.
    for row in expected.card_rows:
        if row[STATE_TS] == unbounded.cards[row[CARD_KEY]].ts[-1]:
            assert row[CARD_BLOB] == encode_card(unbounded.cards[row[CARD_KEY]])


def test_the_encoder_caches_drop_the_least_recently_used_entity() -> None:
    blobs = CardBlobs(max_entities=2)
    states: dict[str, CardState | None] = {"a": None, "b": None, "c": None}
    for i, key in enumerate("abab" + "c" + "b"):  # "c" drops "a" (b was used after a)
        event = TxnEvent(f"x{i}", i, key, "t1", "m1", "FR", 1.0)
        new = update_card(states[key], event)
        assert blobs.after(key, states[key], new, event) == encode_card(new)
        states[key] = new
    assert list(blobs._cards) == ["c", "b"]
    terminals = TerminalBlobs(max_entities=1)
    for key in ("t1", "t2"):
        state = update_terminal_txn(None, US_PER_DAY, 5.0)
        assert terminals.blob(key, state) == encode_terminal(state)
    assert list(terminals._marks) == ["t2"]
