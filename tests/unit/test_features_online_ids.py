"""Device and IP novelty: point in time, sentinels, old blobs, row-wise == batch."""

from __future__ import annotations

from datetime import UTC, datetime
from functools import reduce
from typing import Any

import pytest
from legacy_card_blob import format_1_blob

from fraudlens.features.definitions import card_features
from fraudlens.features.odfv import VECTOR_MIN_ROWS, card_feature_columns, request_fields
from fraudlens.features.online_ids import NO_ID, UNKNOWN_ID, device_code, ip_code
from fraudlens.features.state import US_PER_DAY, US_PER_SECOND, CardState, TxnEvent, update_card
from fraudlens.features.state_codec import CARD_BLOB, card_row, decode_card, encode_card

T0 = int(datetime(2026, 6, 1, 12, 0, tzinfo=UTC).timestamp()) * US_PER_SECOND
PHONE = device_code("dev_phone")
LAPTOP = device_code("dev_laptop")
HOME = ip_code("81.2.69.160")
NAMES = (
    "card_new_device_30d",
    "card_new_ip_30d",
    "card_distinct_devices_30d",
    "card_device_age_secs_30d",
)


def txn(i: int, t: int, device: int = NO_ID, ip: int = NO_ID) -> TxnEvent:
    return TxnEvent(f"x{i}", t, "c1", "t1", "m1", "FR", 10.0, device=device, ip=ip)


def build(events: list[TxnEvent]) -> CardState:
    """The card state after ``events`` (``update_card`` in turn)."""
    return reduce(update_card, events, CardState())


def online(state: CardState | None, request: TxnEvent) -> tuple[int, int, int]:
    values = card_features(state, request)
    return values[NAMES[0]], values[NAMES[1]], values[NAMES[2]]


def test_codes_are_pseudonyms_of_the_device_and_the_ip_network() -> None:
    assert PHONE > 0 and LAPTOP > 0 and PHONE != LAPTOP
    assert device_code(None) == device_code("") == NO_ID
    assert ip_code(None) == NO_ID
    # The same /24 (IPv4) or /64 (IPv6) network is the same place.
    assert ip_code("81.2.69.7") == HOME != ip_code("81.2.70.160")
    assert ip_code("2001:db8:1:2::1") == ip_code("2001:db8:1:2:ffff::9")
    assert ip_code("2001:db8:1:2::1") != ip_code("2001:db8:1:3::1")
    assert ip_code("::ffff:81.2.69.1") == HOME != ip_code("::ffff:81.2.68.1")
    # A value encrypted at rest cannot be compared: unknown, never "new".
    assert device_code("enc:v1:k1:abc") == ip_code("enc:v1:k1:abc") == UNKNOWN_ID
    assert ip_code("not an ip") == UNKNOWN_ID
    # The value itself is never kept.
    blob = encode_card(build([txn(1, T0 - 1, PHONE, HOME)]))
    assert b"dev_phone" not in blob and b"81.2.69" not in blob


def test_a_device_counts_only_when_used_strictly_before_the_request() -> None:
    later = build([txn(1, T0, PHONE, HOME), txn(2, T0 + 1, LAPTOP, HOME)])
    request = txn(9, T0, PHONE, HOME)
    # Used at the same microsecond or after: not known yet.
    assert online(later, request) == (1, 1, 0)
    assert online(later, txn(9, T0, LAPTOP, HOME))[0] == 1
    before = build([txn(1, T0 - 1, PHONE, HOME)])
    assert online(before, request) == (0, 0, 1)
    # The 30-day window: exactly 30 days before is inside, one microsecond more is not.
    edge = build([txn(1, T0 - 30 * US_PER_DAY, PHONE, HOME)])
    assert online(edge, request) == (0, 0, 1)
    old = build([txn(1, T0 - 30 * US_PER_DAY - 1, PHONE, HOME)])
    assert online(old, request) == (1, 1, 0)


def test_no_device_gives_the_sentinel_and_card_present_history_counts_nothing() -> None:
    present = build([txn(1, T0 - 5, NO_ID, NO_ID), txn(2, T0 - 4, PHONE, NO_ID)])
    assert online(present, txn(9, T0)) == (-1, -1, 1)
    assert online(present, txn(9, T0, LAPTOP, HOME)) == (1, 1, 1)
    assert online(None, txn(9, T0, PHONE, HOME)) == (1, 1, 0)
    assert online(None, txn(9, T0)) == (-1, -1, 0)


def test_a_card_from_the_previous_format_never_looks_new() -> None:
    # Events stored before devices were kept: a device not found may be one of them.
    state = build([txn(1, T0 - 5 * US_PER_DAY), txn(2, T0 - US_PER_DAY)])
    old = decode_card(format_1_blob(state))
    assert online(old, txn(9, T0, PHONE, HOME)) == (-1, -1, -1)
    # New events after the upgrade are known: found is 0, and once the old
    # events leave the 30-day window a new device is new again.
    upgraded = update_card(old, txn(3, T0 - 10, PHONE, HOME))
    assert online(upgraded, txn(9, T0, PHONE, HOME)) == (0, 0, -1)
    assert online(upgraded, txn(9, T0, LAPTOP, ip_code("10.9.9.9"))) == (-1, -1, -1)
    assert online(upgraded, txn(9, T0 + 30 * US_PER_DAY - 20, LAPTOP, HOME)) == (1, 0, 1)


def rows(cases: list[tuple[bytes | None, TxnEvent]]) -> dict[str, list[Any]]:
    inputs: dict[str, list[Any]] = {CARD_BLOB: []}
    for blob, event in cases:
        inputs[CARD_BLOB].append(blob)
        fields = request_fields(
            {
                "event_time": event.time_us,
                "amount": event.amount,
                "terminal_id": event.terminal_id,
                "merchant_id": event.merchant_id,
                "country": event.country,
            }
        )
        fields |= {"req_device": event.device, "req_ip": event.ip}
        for name, value in fields.items():
            inputs.setdefault(name, []).append(value)
    return inputs


@pytest.mark.parametrize("copies", [1, VECTOR_MIN_ROWS])
def test_batch_equals_row_wise_on_every_case(copies: int) -> None:
    legacy = format_1_blob(build([txn(1, T0 - US_PER_DAY)]))
    mixed = card_row(
        build(
            [
                txn(1, T0 - 3 * US_PER_DAY, PHONE, HOME),
                txn(2, T0 - 2 * US_PER_DAY),
                txn(3, T0 - US_PER_DAY, LAPTOP, ip_code("10.0.0.1")),
                txn(4, T0, device_code("dev_same_us"), HOME),
                txn(5, T0 + 1, device_code("dev_later"), HOME),
            ]
        )
    )[CARD_BLOB]
    requests = [
        txn(9, T0, PHONE, HOME),
        txn(9, T0, device_code("dev_same_us"), ip_code("10.0.0.200")),
        txn(9, T0, device_code("dev_later"), ip_code("192.168.1.1")),
        txn(9, T0),
        txn(9, T0, UNKNOWN_ID, UNKNOWN_ID),
    ]
    cases = [(blob, r) for blob in (None, legacy, mixed) for r in requests] * copies
    inputs = rows(cases)
    batch = card_feature_columns(inputs)
    for i, (blob, request) in enumerate(cases):
        state = None if blob is None else decode_card(blob)
        values = card_features(state, request)
        want = tuple((type(values[n]), values[n]) for n in NAMES)
        assert tuple((type(batch[n][i]), batch[n][i]) for n in NAMES) == want, (i, want)
    assert tuple(batch[name][0] for name in NAMES) == (1, 1, 0, 0.0)  # no state
    got = [tuple(batch[name][i] for name in NAMES) for i in range(10, 15)]
    assert got == [
        (0, 0, 2, 3 * 86_400.0),
        (1, 0, 2, 0.0),
        (1, 1, 2, 0.0),
        (-1, -1, 2, -1.0),
        (-1, -1, 2, -1.0),
    ]
    assert [batch[NAMES[3]][i] for i in range(5, 10)] == [-1.0] * 5  # format 1: unknown


def test_device_age_tells_a_fraud_burst_from_the_usual_device() -> None:
    fraud = device_code("dev_fraud")
    state = build(
        [
            txn(1, T0 - 20 * US_PER_DAY, PHONE, HOME),
            txn(2, T0 - US_PER_DAY, PHONE, HOME),
            txn(3, T0 - 90 * US_PER_SECOND, fraud),
            txn(4, T0 - 30 * US_PER_SECOND, fraud),
        ]
    )
    age = "card_device_age_secs_30d"
    assert card_features(state, txn(9, T0, fraud))[age] == 90.0  # first use, not the last
    assert card_features(state, txn(9, T0, PHONE))[age] == 20 * 86_400.0
    assert card_features(state, txn(9, T0, LAPTOP))[age] == 0.0  # new
    assert card_features(state, txn(9, T0))[age] == -1.0  # no device
    assert card_features(state, txn(9, T0 - 90 * US_PER_SECOND, fraud))[age] == 0.0  # same us
