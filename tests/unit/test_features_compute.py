"""Batch (numpy) card features == the row-wise definitions, bit for bit."""

from __future__ import annotations

import math
import random
from datetime import UTC, datetime
from typing import Any

import pytest
from legacy_card_blob import format_1_blob

from fraudlens.errors import FeatureStoreError
from fraudlens.features.compute import card_matrix
from fraudlens.features.definitions import card_features
from fraudlens.features.odfv import VECTOR_MIN_ROWS, card_feature_columns, terminal_feature_columns
from fraudlens.features.online_ids import NO_ID, UNKNOWN_ID, device_code, ip_code
from fraudlens.features.registry import CARD_FEATURES, TERMINAL_FEATURES, WINDOWS
from fraudlens.features.state import (
    CARD_BLOB,
    DEFAULT_MATURED_DELAY_DAYS,
    MISSING_COORD,
    TERMINAL_BLOB,
    US_PER_DAY,
    US_PER_SECOND,
    CardState,
    TerminalState,
    TxnEvent,
)
from fraudlens.features.state_codec import (
    card_row,
    card_views,
    encode_card,
    encode_terminal,
    terminal_row,
    terminal_views,
)

T0 = int(datetime(2026, 6, 1, 12, 0, tzinfo=UTC).timestamp()) * US_PER_SECOND
MIN = 60 * US_PER_SECOND
HOUR = 60 * MIN
WIDTHS = [width for _, width in WINDOWS]
NAMES = [spec.name for spec in CARD_FEATURES]
TERMINAL_NAMES = [spec.name for spec in TERMINAL_FEATURES]
Inputs = dict[str, list[Any]]


def exact(value: float | int) -> tuple[type, str]:
    """A value's type and exact bits (so 0.0 and -0.0 differ, 1 and 1.0 differ)."""
    return type(value), value.hex() if isinstance(value, float) else str(value)


def random_state(rng: random.Random, events: int) -> CardState:
    """A card's state: ~30 days of events sorted by time, some with equal times."""
    ts = sorted(T0 - rng.randrange(32 * US_PER_DAY) for _ in range(events))
    for i in range(1, len(ts)):
        if rng.random() < 0.1:
            ts[i] = ts[i - 1]  # equal timestamps
    amounts = [rng.choice([0.1, 0.7, 19.99, -0.0, 0.0, round(rng.uniform(0, 500), 2)]) for _ in ts]
    located = [rng.random() < 0.8 for _ in ts]
    online = [rng.random() < 0.5 for _ in ts]  # with a device and an IP
    return CardState(
        ts=ts,
        amount=amounts,
        terminal=[f"t{rng.randrange(12)}" for _ in ts],
        merchant=[f"m{rng.randrange(6)}" for _ in ts],
        country=[rng.choice(["FR", "DE", "US"]) for _ in ts],
        lat=[rng.uniform(-60, 60) if ok else MISSING_COORD for ok in located],
        lon=[rng.uniform(-170, 170) if ok else MISSING_COORD for ok in located],
        device=[DEVICES[rng.randrange(4)] if ok else NO_ID for ok in online],
        ip=[IPS[rng.randrange(4)] if ok else NO_ID for ok in online],
    )


# Codes of devices and IP networks; the last ones of each are never in a state.
DEVICES = [device_code(f"dev_{i}") for i in range(6)]
IPS = [ip_code(f"10.0.{i}.7") for i in range(6)]


def random_request(rng: random.Random, state: CardState | None) -> dict[str, Any]:
    ts = state.ts if state else [T0]
    time_us = rng.choice(
        [
            T0 + rng.randrange(-2 * US_PER_DAY, US_PER_DAY),  # anywhere near the state
            ts[0] - MIN,  # before every event
            rng.choice(ts),  # equal to an event's time
            rng.choice(ts) + rng.choice(WIDTHS),  # an event on a window's edge
            T0 + rng.randrange(-48, 24) * HOUR,  # on the hour (local hour rounding)
            ts[-1] + rng.randrange(1, 2 * MIN),  # just after the last one
            ts[-1] + 40 * US_PER_DAY,  # after every window
        ]
    )
    return {
        "req_time_us": time_us,
        "req_amount": rng.choice([0.0, 0.1, 19.99, round(rng.uniform(0, 2000), 2)]),
        "req_terminal_id": f"t{rng.randrange(14)}",  # t12, t13: never seen
        "req_merchant_id": f"m{rng.randrange(7)}",
        "req_country": rng.choice(["FR", "DE", "US", "JP"]),
        "req_lat": coordinate(rng, 89.0, [None, math.nan, MISSING_COORD, 95.0, -91.0]),
        "req_lon": coordinate(rng, 179.0, [None, math.nan, MISSING_COORD, 200.0, -1e-10]),
        # Mostly one the card used or a new one; else none (card-present) or unknown.
        "req_device": rng.choice([*DEVICES, NO_ID, UNKNOWN_ID]),
        "req_ip": rng.choice([*IPS, NO_ID, UNKNOWN_ID]),
    }


def coordinate(rng: random.Random, limit: float, odd: list[float | None]) -> float | None:
    """Mostly a valid coordinate, else a missing or out-of-range one."""
    return rng.uniform(-limit, limit) if rng.random() < 0.8 else rng.choice(odd)


def no_state(rng: random.Random) -> dict[str, Any]:
    """The ways a row says "no state": a null, the blob of an empty state."""
    return {CARD_BLOB: rng.choice([None, encode_card(CardState())])}


def random_inputs(seed: int, rows: int) -> Inputs:
    rng = random.Random(seed)
    inputs: Inputs = {}
    for _ in range(rows):
        roll = rng.random()
        if roll < 0.15:
            state, row = None, no_state(rng)
        else:
            size = 1 if roll < 0.25 else rng.choice([2, 5, 30, 120, 400])
            state = random_state(rng, size)
            # Some states as the previous release stored them (devices, IPs unknown).
            row = {CARD_BLOB: format_1_blob(state)} if rng.random() < 0.1 else card_row(state)
        for col, value in {**row, **random_request(rng, state)}.items():
            inputs.setdefault(col, []).append(value)
    return inputs


def one_row(inputs: Inputs, i: int) -> Inputs:
    return {col: [values[i]] for col, values in inputs.items()}


def row_wise(inputs: Inputs) -> list[dict[str, float | int]]:
    rows = len(inputs["req_time_us"])
    out = []
    for i in range(rows):
        columns = card_feature_columns(one_row(inputs, i))  # 1 row: the definitions
        out.append({name: columns[name][0] for name in NAMES})
    return out


@pytest.mark.parametrize("seed", range(6))
def test_batch_equals_row_wise_definitions_exactly(seed: int) -> None:
    inputs = random_inputs(seed, rows=64)
    expected = row_wise(inputs)
    batch = card_feature_columns(inputs)
    assert list(batch) == NAMES
    for i, want in enumerate(expected):
        got = {name: batch[name][i] for name in NAMES}
        diff = {k: (got[k], v) for k, v in want.items() if exact(got[k]) != exact(v)}
        assert not diff, f"row {i}: {diff}"


def test_batch_equals_one_row_at_a_time() -> None:
    inputs = random_inputs(11, rows=40)
    whole = card_matrix(inputs)
    for i in range(40):
        alone = card_matrix(one_row(inputs, i))
        for name in NAMES:
            assert exact(whole[name][i].item()) == exact(alone[name][0].item()), (i, name)


def test_batch_without_any_state() -> None:
    rng = random.Random(3)
    inputs: Inputs = {}
    for _ in range(VECTOR_MIN_ROWS):
        for col, value in random_request(rng, None).items():
            inputs.setdefault(col, []).append(value)
    batch = card_feature_columns(inputs)  # no state columns at all
    for i, want in enumerate(row_wise(inputs)):
        assert {name: exact(batch[name][i]) for name in NAMES} == {
            k: exact(v) for k, v in want.items()
        }
    assert batch["card_secs_since_prev"] == [-1.0] * VECTOR_MIN_ROWS


def test_equal_inexact_amounts_give_no_zscore() -> None:
    state = CardState(
        ts=[T0 - (i + 1) * MIN for i in range(10)][::-1],
        amount=[0.1] * 10,  # their mean is not exactly 0.1: std is ~1e-17, not 0
        terminal=["t1"] * 10,
        merchant=["m1"] * 10,
        country=["FR"] * 10,
        lat=[MISSING_COORD] * 10,
        lon=[MISSING_COORD] * 10,
        device=[NO_ID] * 10,
        ip=[NO_ID] * 10,
    )
    request = TxnEvent("x", T0, "c", "t1", "m1", "FR", 100.0)
    assert card_features(state, request)["card_amount_zscore_30d"] == 0.0
    row: Inputs = {CARD_BLOB: [encode_card(state)] * VECTOR_MIN_ROWS}
    row |= {
        "req_time_us": [T0] * VECTOR_MIN_ROWS,
        "req_amount": [100.0] * VECTOR_MIN_ROWS,
        "req_terminal_id": ["t1"] * VECTOR_MIN_ROWS,
        "req_merchant_id": ["m1"] * VECTOR_MIN_ROWS,
        "req_country": ["FR"] * VECTOR_MIN_ROWS,
        "req_lat": [None] * VECTOR_MIN_ROWS,
        "req_lon": [None] * VECTOR_MIN_ROWS,
        "req_device": [NO_ID] * VECTOR_MIN_ROWS,
        "req_ip": [NO_ID] * VECTOR_MIN_ROWS,
    }
    assert card_feature_columns(row)["card_amount_zscore_30d"] == [0.0] * VECTOR_MIN_ROWS


def random_terminal(rng: random.Random, time_us: int) -> dict[str, Any]:
    """A terminal's state around ``time_us``: day counts and fraud marks, or no state."""
    today = time_us // US_PER_DAY
    roll = rng.random()
    if roll < 0.1:
        return {TERMINAL_BLOB: None}
    days = sorted(rng.sample(range(today - 33, today + 2), rng.randrange(0, 30)))
    marks = sorted(
        time_us + rng.randrange(-20 * US_PER_DAY, US_PER_DAY) for _ in range(rng.randrange(6))
    )
    marks[: rng.randrange(2)] = [time_us] * min(1, len(marks))  # a label arriving at t
    if roll < 0.15:
        return {TERMINAL_BLOB: encode_terminal(TerminalState())}
    state = TerminalState(
        day=days,
        tx=[rng.randrange(1, 50) for _ in days],
        amount_cents=[rng.choice([0, 1, 1999, rng.randrange(0, 10**9)]) for _ in days],
        fraud_label_us=sorted(marks),
        fraud_day=[(m - rng.randrange(0, 10 * US_PER_DAY)) // US_PER_DAY for m in sorted(marks)],
    )
    return terminal_row(state)


@pytest.mark.parametrize("delay", [DEFAULT_MATURED_DELAY_DAYS, 3])
@pytest.mark.parametrize("seed", range(4))
def test_terminal_batch_equals_row_wise_definitions_exactly(seed: int, delay: int) -> None:
    rng = random.Random(seed)
    inputs: Inputs = {}
    for _ in range(64):
        time_us = T0 + rng.randrange(-US_PER_DAY, US_PER_DAY)
        time_us = rng.choice([time_us, time_us // US_PER_DAY * US_PER_DAY])  # midnight too
        request = {"req_time_us": time_us, "req_amount": rng.choice([0.0, 0.1, 19.99, 5e3])}
        for col, value in {**random_terminal(rng, time_us), **request}.items():
            inputs.setdefault(col, []).append(value)
    batch = terminal_feature_columns(inputs, matured_delay_days=delay)
    assert list(batch) == TERMINAL_NAMES
    assert any(batch["term_fraud_count_30d"]) and any(batch["term_fraud_rate_7d"])
    assert len(set(batch["term_amount_ratio_30d"])) > 10  # the ratio is exercised
    assert any(batch["term_matured_fraud_count_7d"]) and any(batch["term_matured_tx_count_30d"])
    for i in range(64):
        alone = terminal_feature_columns(one_row(inputs, i), matured_delay_days=delay)
        for name in TERMINAL_NAMES:
            assert exact(batch[name][i]) == exact(alone[name][0]), (i, name)
    other = terminal_feature_columns(inputs, matured_delay_days=delay + 2)
    assert other["term_matured_tx_count_7d"] != batch["term_matured_tx_count_7d"]
    request_only = {name: inputs[name] for name in ("req_time_us", "req_amount")}
    bare = terminal_feature_columns(request_only)  # no state columns
    assert bare["term_tx_count_30d"] == [0] * 64


def _spoiled(blob: bytes) -> list[Any]:
    """Ways a blob is not readable: truncated, extended, other magic, other version."""
    version_at = 4  # after the magic (state_codec.HEADER)
    return [
        b"",
        blob[:10],
        blob[:-1],
        blob + b"\0",
        b"XXXX" + blob[4:],
        blob[:version_at] + bytes([blob[version_at] + 1]) + blob[version_at + 1 :],
        list(blob),
    ]


@pytest.mark.parametrize("kind", ["card", "terminal"])
def test_a_spoiled_blob_in_a_batch_raises_the_codecs_error(kind: str) -> None:
    rng = random.Random(5)
    column = CARD_BLOB if kind == "card" else TERMINAL_BLOB
    read = card_views if kind == "card" else terminal_views
    columns = card_feature_columns if kind == "card" else terminal_feature_columns
    inputs = random_inputs(5, rows=VECTOR_MIN_ROWS)
    if kind == "terminal":
        inputs[column] = [random_terminal(rng, T0)[column] for _ in range(VECTOR_MIN_ROWS)]
    if kind == "card":
        good = encode_card(random_state(rng, 4))
    else:
        marks = {"fraud_label_us": [T0], "fraud_day": [T0 // US_PER_DAY]}
        good = encode_terminal(TerminalState(day=[1, 2], tx=[3, 4], amount_cents=[5, 6], **marks))
    for spoiled in _spoiled(good):
        with pytest.raises(FeatureStoreError) as codec:
            read(spoiled)
        batch = {**inputs, column: [*inputs[column][:7], spoiled, *inputs[column][8:]]}
        with pytest.raises(FeatureStoreError) as batched:
            columns(batch, 1)
        assert str(batched.value) == str(codec.value)


def test_blobs_as_bytearray_or_memoryview_read_as_bytes() -> None:
    inputs = random_inputs(8, rows=VECTOR_MIN_ROWS)
    want = card_feature_columns(inputs, 1)
    for wrap in (bytearray, memoryview):
        blobs = [None if b is None else wrap(b) for b in inputs[CARD_BLOB]]
        got = card_feature_columns({**inputs, CARD_BLOB: blobs}, 1)
        assert {k: [exact(v) for v in got[k]] for k in NAMES} == {
            k: [exact(v) for v in want[k]] for k in NAMES
        }
