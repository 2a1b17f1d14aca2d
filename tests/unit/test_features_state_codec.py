"""The state blobs: every state round-trips exactly; unreadable blobs are refused."""

from __future__ import annotations

import math
import struct
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from legacy_card_blob import format_1_blob

from fraudlens.errors import FeatureStoreError
from fraudlens.features.odfv import (
    FEAST_SAMPLE_BYTES,
    VECTOR_MIN_ROWS,
    card_feature_columns,
    terminal_feature_columns,
)
from fraudlens.features.online_ids import NO_ID, UNKNOWN_ID
from fraudlens.features.state import (
    CARD_BLOB,
    CARD_MAX_EVENTS,
    MISSING_COORD,
    TERMINAL_BLOB,
    TERMINAL_MAX_FRAUD_MARKS,
    TERMINAL_RETENTION_DAYS,
    CardState,
    TerminalState,
)
from fraudlens.features.state_codec import (
    CARD_FORMAT_VERSION,
    CARD_MAGIC,
    HEADER_SIZE,
    card_views,
    decode_card,
    decode_terminal,
    encode_card,
    encode_terminal,
    terminal_views,
)

INT64 = st.integers(min_value=-(2**63), max_value=2**63 - 1)
FLOAT = st.floats(allow_nan=True, allow_infinity=True)
NAME = st.text(max_size=12)  # any unicode, the empty string too


def card_of(*columns: list[Any]) -> CardState:
    """A card state of the seven columns before devices and IPs, with neither."""
    n = len(columns[0])
    return CardState(*columns, [NO_ID] * n, [NO_ID] * n)


def bits(values: list[float]) -> list[str]:
    """Exact bits of floats (NaN, -0.0 and 0.0 all differ from each other)."""
    return [struct.pack("<d", v).hex() for v in values]


@st.composite
def card_states(draw: st.DrawFn) -> CardState:
    n = draw(st.integers(0, 40))
    names = draw(st.lists(NAME, min_size=1, max_size=6))
    pick = st.sampled_from(names)
    return CardState(
        ts=draw(st.lists(INT64, min_size=n, max_size=n)),
        amount=draw(st.lists(FLOAT, min_size=n, max_size=n)),
        terminal=draw(st.lists(pick, min_size=n, max_size=n)),
        merchant=draw(st.lists(pick, min_size=n, max_size=n)),
        country=draw(st.lists(NAME, min_size=n, max_size=n)),
        lat=draw(st.lists(FLOAT, min_size=n, max_size=n)),
        lon=draw(st.lists(FLOAT, min_size=n, max_size=n)),
        device=draw(st.lists(INT64, min_size=n, max_size=n)),
        ip=draw(st.lists(INT64, min_size=n, max_size=n)),
    )


def same_card(a: CardState, b: CardState) -> bool:
    floats = ("amount", "lat", "lon")
    return all(
        bits(getattr(a, f)) == bits(getattr(b, f))
        if f in floats
        else getattr(a, f) == getattr(b, f)
        for f in CardState.__slots__
    )


@given(card_states())
@settings(max_examples=300, deadline=None)
def test_card_state_round_trips_exactly(state: CardState) -> None:
    blob = encode_card(state)
    back = decode_card(blob)
    assert same_card(back, state)
    assert all(type(v) is float for v in back.amount + back.lat + back.lon)
    assert all(type(v) is int for v in back.ts + back.device + back.ip)
    assert same_card(decode_card(bytearray(blob)), state)  # type: ignore[arg-type]


@given(card_states(), st.lists(NAME, max_size=5))
@settings(max_examples=300, deadline=None)
def test_code_finds_exactly_the_whole_strings_of_the_table(
    state: CardState, others: list[str]
) -> None:
    views = card_views(encode_card(state))
    table = views.table()
    for i, value in enumerate(table):
        assert views.code(value) == i
    for value in [*others, *(v + "x" for v in table), *(v[:-1] for v in table if v)]:
        assert views.code(value) == (table.index(value) if value in table else -1)


def test_code_is_not_fooled_by_a_string_inside_another() -> None:
    names = ["t12", "t1", "12", "", "é1", "1t"]
    views = card_views(
        encode_card(card_of([1] * 6, [0.0] * 6, names, names, names, [0.0] * 6, [0.0] * 6))
    )
    assert [views.code(v) for v in names] == list(range(6))
    assert views.code("t") == views.code("2") == views.code("2t") == -1
    assert (
        card_views(encode_card(card_of([1], [0.0], ["a"], ["b"], ["c"], [0.0], [0.0]))).code("")
        == -1
    )


@given(
    st.integers(0, 30).flatmap(
        lambda n: st.tuples(*(st.lists(INT64, min_size=n, max_size=n) for _ in range(3)))
    ),
    st.integers(0, 30).flatmap(
        lambda m: st.tuples(*(st.lists(INT64, min_size=m, max_size=m) for _ in range(2)))
    ),
)
@settings(max_examples=200, deadline=None)
def test_terminal_state_round_trips_exactly(
    days: tuple[list[int], list[int], list[int]], marks: tuple[list[int], list[int]]
) -> None:
    state = TerminalState(*days, *marks)
    assert decode_terminal(encode_terminal(state)) == state


def test_empty_states_round_trip() -> None:
    assert decode_card(encode_card(CardState())) == CardState()
    assert decode_terminal(encode_terminal(TerminalState())) == TerminalState()
    assert len(encode_card(CardState())) == HEADER_SIZE


def test_largest_states_round_trip() -> None:
    n = CARD_MAX_EVENTS
    card = CardState(
        ts=list(range(n)),
        amount=[i / 7 for i in range(n)],
        terminal=[f"terminal-{i}" for i in range(n)],  # every value distinct: 3n strings
        merchant=[f"merchant-{i}" for i in range(n)],
        country=[f"country-{i}-é" for i in range(n)],
        lat=[MISSING_COORD if i % 3 else -89.5 for i in range(n)],
        lon=[math.nextafter(179.0, 180.0)] * n,
        device=[2**63 - 1 - i for i in range(n)],
        ip=[NO_ID] * n,
    )
    assert decode_card(encode_card(card)) == card
    days = TERMINAL_RETENTION_DAYS + 1
    m = TERMINAL_MAX_FRAUD_MARKS
    terminal = TerminalState(
        list(range(days)), [10**6] * days, [2**62] * days, list(range(m)), [-1] * m
    )
    assert decode_terminal(encode_terminal(terminal)) == terminal


def test_views_are_zero_copy() -> None:
    blob = encode_card(
        card_of([1, 2], [1.5, 2.5], ["a", "b"], ["m", "m"], ["FR"] * 2, [0.0] * 2, [0.0] * 2)
    )
    views = card_views(blob)
    assert not views.ts.flags.owndata and not views.ts.flags.writeable
    assert np.shares_memory(views.ts, np.frombuffer(blob, dtype=np.uint8))
    assert views.table() == ["a", "b", "m", "FR"]
    assert views.terminal.tolist() == [0, 1] and views.country.tolist() == [3, 3]


def test_unknown_version_is_refused() -> None:
    blob = bytearray(encode_card(card_of([1], [1.0], ["t"], ["m"], ["FR"], [0.0], [0.0])))
    struct.pack_into("<H", blob, 4, CARD_FORMAT_VERSION + 1)
    with pytest.raises(
        FeatureStoreError, match=f"format version {CARD_FORMAT_VERSION + 1} is unknown"
    ):
        decode_card(bytes(blob))
    term = bytearray(encode_terminal(TerminalState([1], [1], [1], [], [])))
    struct.pack_into("<H", term, 4, 0)
    with pytest.raises(FeatureStoreError, match="format version 0 is unknown"):
        decode_terminal(bytes(term))


@pytest.mark.parametrize("cut", [1, 8, 20, HEADER_SIZE - 1])
def test_truncated_blob_is_refused(cut: int) -> None:
    card = encode_card(
        card_of([1, 2], [1.0, 2.0], ["t", "u"], ["m"] * 2, ["FR"] * 2, [0.0] * 2, [0.0] * 2)
    )
    term = encode_terminal(TerminalState([1, 2], [1, 1], [5, 5], [3], [1]))
    for blob, decode in ((card, decode_card), (term, decode_terminal)):
        with pytest.raises(FeatureStoreError, match="truncated|bytes"):
            decode(blob[:-cut])  # type: ignore[operator]
        with pytest.raises(FeatureStoreError, match="bytes"):
            decode(blob + b"\0")  # type: ignore[operator]


def test_a_blob_of_the_other_kind_or_an_old_list_column_is_refused() -> None:
    card = encode_card(card_of([1], [1.0], ["t"], ["m"], ["FR"], [0.0], [0.0]))
    with pytest.raises(FeatureStoreError, match="magic"):
        decode_terminal(card)
    with pytest.raises(FeatureStoreError, match=CARD_MAGIC.decode()):
        decode_card(encode_terminal(TerminalState([1], [1], [1], [], [])))
    with pytest.raises(FeatureStoreError, match="re-backfilled"):
        decode_card([1, 2, 3])  # type: ignore[arg-type]


def test_a_code_outside_the_table_is_refused() -> None:
    blob = bytearray(encode_card(card_of([1], [1.0], ["t"], ["t"], ["t"], [0.0], [0.0])))
    struct.pack_into("<i", blob, HEADER_SIZE + 48, 5)  # terminal code 5 of a 1-string table
    with pytest.raises(FeatureStoreError, match="outside its table"):
        card_views(bytes(blob))
    assert terminal_views(encode_terminal(TerminalState())).day.size == 0


def test_ragged_states_are_not_encoded() -> None:
    with pytest.raises(ValueError, match="differ in length"):
        encode_card(card_of([1, 2], [1.0], ["t"] * 2, ["m"] * 2, ["FR"] * 2, [0.0] * 2, [0.0] * 2))
    with pytest.raises(ValueError, match="differ in length"):
        encode_terminal(TerminalState([1], [1], [1], [5], []))


@pytest.mark.parametrize("rows", [1, VECTOR_MIN_ROWS])
def test_the_odfvs_read_feasts_inference_sample_as_no_state_and_refuse_other_bytes(
    rows: int,
) -> None:
    request = {
        "req_time_us": [1_780_000_000_000_000] * rows,
        "req_amount": [12.5] * rows,
        "req_terminal_id": ["t1"] * rows,
        "req_merchant_id": ["m1"] * rows,
        "req_country": ["FR"] * rows,
        "req_lat": [None] * rows,
        "req_lon": [None] * rows,
        "req_device": [NO_ID] * rows,
        "req_ip": [NO_ID] * rows,
    }
    for columns, blob in (
        (card_feature_columns, CARD_BLOB),
        (terminal_feature_columns, TERMINAL_BLOB),
    ):
        bare = columns(request)
        assert columns({**request, blob: [FEAST_SAMPLE_BYTES] * rows}) == bare
        assert columns({**request, blob: [None] * rows}) == bare
        with pytest.raises(FeatureStoreError, match="magic"):
            columns({**request, blob: [b"hello there!" * 2] * rows})


def test_a_format_1_blob_reads_with_unknown_devices_and_ips() -> None:
    state = card_of([1, 2], [1.5, 2.5], ["a", "b"], ["m", "m"], ["FR"] * 2, [1.0] * 2, [2.0] * 2)
    old = decode_card(format_1_blob(state))
    assert old.device == old.ip == [UNKNOWN_ID, UNKNOWN_ID]
    assert old.ts == state.ts and old.amount == state.amount and old.terminal == state.terminal
    assert old.lat == state.lat and old.lon == state.lon and old.country == state.country
    assert encode_card(old)[4] == CARD_FORMAT_VERSION  # written back in the new format
