"""``parse_transaction`` reads raw JSON in one pydantic-core pass, and answers as the two steps did.

The two steps (``json.loads``, then ``Transaction.model_validate``) were the
only read before; anything the one pass refuses still goes through them. So
the one pass must never accept a message the two steps refuse, nor read one
differently: compared here on generated events and on the byte-level cases
where the two parsers could differ (duplicate keys, NaN literals, escapes,
surrogates, huge numbers, encodings, trailing data). The outcome compared is
the transaction (values, their types, the bits of every float, the fields
set) or the error (field and message: the dead-letter headers).
"""

from __future__ import annotations

import json
import math
from typing import Any

import pydantic
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from test_schema import NOW, valid_event

from fraudlens.errors import ValidationError
from fraudlens.schema import Transaction, _first_error, _load, check_limits, parse_transaction

VALID: dict[str, Any] = valid_event()  # test_schema's valid event
FIELDS = [*VALID, "schema_version", "card_last4", "device_id", "ip_address", "extras", "other"]


def two_steps(raw: bytes | str) -> Transaction:
    """``parse_transaction`` as it was: ``json.loads``, then the model."""
    try:
        txn = Transaction.model_validate(_load(raw))
    except pydantic.ValidationError as exc:
        raise _first_error(exc) from None
    check_limits(txn, now=NOW)
    return txn


def outcome(parse: Any, raw: bytes | str) -> tuple[str, Any]:
    """What a parser makes of ``raw``: the transaction's exact contents, or the error."""
    try:
        txn = parse(raw)
    except ValidationError as exc:
        return "refused", (exc.field, exc.reason)
    fields = {k: (type(v), _exact(v)) for k, v in vars(txn).items()}
    return "accepted", (fields, txn.model_fields_set)


def _exact(value: Any) -> Any:
    if isinstance(value, float):  # -0.0 == 0.0 and NaN != NaN: compare the bits
        return value.hex() if math.isfinite(value) else repr(value)
    if isinstance(value, dict):
        return {k: (type(v), _exact(v)) for k, v in value.items()}
    return value


def one_pass(raw: bytes | str) -> Transaction:
    return parse_transaction(raw, now=NOW)


def assert_same(raw: bytes | str) -> tuple[str, Any]:
    expected = outcome(two_steps, raw)
    assert outcome(one_pass, raw) == expected
    return expected


# JSON values of every kind, including the look-alikes lax parsing turns into others.
scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(10**20), max_value=10**20),
    st.floats(),
    st.sampled_from(["", " ", "1", "1.5", "-0", "EUR", "FR", "chip", "2026-06-01", "12a4"]),
    st.sampled_from(["2026-07-01T11:00:00Z", "2026-07-01T11:00:00", "1780000000", "::1"]),
    st.sampled_from(["2026-07-01T11:00:00+02:00", " T1 ", "T\u00e91", "\ud800", "x\udfff"]),
    st.text(max_size=12),
)
values = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3)
    ),
    max_leaves=6,
)
# One or two fields changed or added (most events stay valid), or many (most are refused).
events = st.one_of(
    st.dictionaries(st.sampled_from(FIELDS), values, max_size=2),
    st.fixed_dictionaries({}, optional={name: values for name in FIELDS}),
).map(lambda changes: {**VALID, **changes})


@settings(max_examples=500, derandomize=True, database=None, deadline=None)
@given(event=events, ascii_only=st.booleans(), repeat=st.sampled_from([None, *FIELDS]))
def test_the_one_pass_accepts_only_what_the_two_steps_accept_and_reads_it_alike(
    event: dict[str, Any], ascii_only: bool, repeat: str | None
) -> None:
    text = json.dumps(event, ensure_ascii=ascii_only)  # NaN / Infinity as json.dumps writes them
    if repeat is not None:  # a key given twice: the last one wins in both readers
        text = text[:-1] + f', "{repeat}": {json.dumps(VALID.get(repeat, 1))}}}'
    assert_same(text.encode("utf-8", "surrogatepass"))
    assert_same(text)


BASE = json.dumps(VALID)[:-1]

CASES = {
    "valid": BASE + "}",
    "duplicate amount": BASE + ', "amount": 7}',
    "duplicate extra": BASE + ', "extras": {"a": 1, "a": 2}}',
    "lone surrogate escape in an extra": BASE + ', "extras": {"a": "\\ud800"}}',
    "surrogate pair escape in an extra": BASE + ', "extras": {"a": "\\ud83d\\ude00"}}',
    "NaN amount": BASE.replace("42.5", "NaN") + "}",
    "NaN latitude": BASE.replace("48.85", "NaN") + "}",
    "-Infinity longitude": BASE.replace("2.35", "-Infinity") + "}",
    "Infinity extra": BASE + ', "extras": {"a": Infinity}}',
    "integer amount": BASE.replace("42.5", "40") + "}",
    "huge integer amount": BASE.replace("42.5", "1" + "0" * 400) + "}",
    "huge float amount": BASE.replace("42.5", "1e400") + "}",
    "huge integer extra": BASE + ', "extras": {"a": 1' + "0" * 400 + "}}",
    "-0.0 amount": BASE.replace("42.5", "-0.0") + "}",
    "long mantissa": BASE.replace("42.5", "0.1000000000000000055511151231257827021181583") + "}",
    "subnormal extra": BASE + ', "extras": {"a": 4.9406564584124654e-324}}',
    "hard rounding extra": BASE + ', "extras": {"a": 2.2250738585072011e-308}}',
    "true amount": BASE.replace("42.5", "true") + "}",
    "text amount": BASE.replace("42.5", '"42.5"') + "}",
    "float schema version": BASE + ', "schema_version": 1.0}',
    "numeric event time": BASE.replace('"2026-07-01T11:59:00Z"', "1782907140.5") + "}",
    "offset event time": BASE.replace("11:59:00Z", "13:59:00+02:00") + "}",
    "number as mcc": BASE.replace('"5411"', "5411") + "}",
    "NUL in an id": BASE + ', "device_id": "a\\u0000"}',
    "escaped letters": BASE.replace('"EUR"', '"\\u0045UR"') + "}",
    "padded id": BASE.replace('"T000001"', '" T000001\\t"') + "}",
    "trailing data": BASE + "} x",
    "trailing whitespace": BASE + "}  \n",
    "two objects": BASE + "}" + BASE + "}",
    "unknown field": BASE + ', "pan": "x"}',
    "missing field": BASE.replace('"mcc": "5411", ', "") + "}",
    "future": BASE.replace("2026-07-01T11:59:00Z", "2026-07-02T11:59:00Z") + "}",
    "array": "[" + BASE + "}]",
    "number": "1",
    "null": "null",
    "empty": "",
    "truncated": BASE,
    "deeply nested extra": BASE + ', "extras": ' + "[" * 300 + "]" * 300 + "}",
}


@pytest.mark.parametrize("text", CASES.values(), ids=CASES.keys())
def test_the_byte_level_cases_where_the_parsers_could_differ(text: str) -> None:
    raw = text.encode("utf-8")
    assert_same(raw)
    assert_same(text)
    assert_same(b"\xef\xbb\xbf" + raw)  # a UTF-8 BOM: json.loads reads it, pydantic does not
    assert_same(text.encode("utf-16"))  # json.loads detects UTF-16 and UTF-32 too


def test_bytes_that_are_not_utf8() -> None:
    for raw in (
        (BASE + ', "device_id": "a\xff"}').encode("latin-1"),
        (BASE + ', "extras": {"a": "\ud800"}}').encode("utf-8", "surrogatepass"),
        b"\xff\xfe",
    ):
        assert_same(raw)


def test_the_valid_case_is_accepted_and_the_refusals_name_their_field() -> None:
    assert assert_same(CASES["valid"].encode())[0] == "accepted"
    assert assert_same(CASES["NaN amount"].encode()) == (
        "refused",
        ("amount", "must be a finite number"),
    )
    assert assert_same(CASES["trailing data"].encode())[1][0] == "$"
