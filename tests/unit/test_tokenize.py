from __future__ import annotations

import logging

import pytest

from fraudlens.errors import TokenizationError
from fraudlens.log import JsonFormatter, mask_pans
from fraudlens.schema import TOKEN_PATTERN
from fraudlens.security import Tokenizer, luhn_valid, normalize_pan

PAN = "4111111111111111"
KEYS = {"k1": b"k" * 32, "k2": b"z" * 32}


def test_luhn() -> None:
    assert luhn_valid(PAN)
    assert luhn_valid("79927398713")
    assert not luhn_valid("4111111111111112")


def test_tokens_are_stable_keyed_and_opaque() -> None:
    tok = Tokenizer("k1", KEYS)
    token = tok.tokenize(PAN)
    assert token == tok.tokenize("4111 1111 1111 1111") == tok.tokenize("4111-1111-1111-1111")
    assert token.startswith("tok_k1_")
    assert PAN not in token
    assert token != Tokenizer("k2", KEYS).tokenize(PAN)
    assert token != Tokenizer("k1", {"k1": b"x" * 32}).tokenize(PAN)
    assert token == Tokenizer("k2", KEYS).tokenize(PAN, kid="k1")


def test_token_matches_schema_pattern() -> None:
    import re

    tok = Tokenizer("k1", KEYS)
    assert re.match(TOKEN_PATTERN, tok.tokenize(PAN))
    assert re.match(TOKEN_PATTERN, tok.tokenize_reference("card-123"))
    assert tok.tokenize_reference("4111111111111111") != tok.tokenize(PAN)


@pytest.mark.parametrize("bad", ["4111111111111112", "1234", "4111x11111111111", ""])
def test_bad_pans_rejected_without_echo(bad: str) -> None:
    with pytest.raises(TokenizationError) as info:
        normalize_pan(bad)
    if bad:
        assert bad not in str(info.value)


def test_bad_keys_rejected() -> None:
    with pytest.raises(TokenizationError):
        Tokenizer("k9", KEYS)
    with pytest.raises(TokenizationError):
        Tokenizer("k1", {"k1": b"short"})
    with pytest.raises(TokenizationError):
        Tokenizer("bad_id!", {"bad_id!": b"k" * 32})


def test_log_formatter_masks_pans() -> None:
    assert PAN not in mask_pans(f"card {PAN} declined")
    assert "1234567890123" in mask_pans("order 1234567890123")  # fails Luhn: kept
    record = logging.makeLogRecord({"msg": "pan=%s", "args": (PAN,), "levelname": "INFO"})
    assert PAN not in JsonFormatter().format(record)


@pytest.mark.parametrize(
    "text",
    [
        f"took 3.{PAN} s",  # a timing: the digits after the point are a fraction
        f"score 0.{PAN}",
        f"elapsed=12.{PAN}",
    ],
)
def test_log_masker_keeps_decimal_fractions(text: str) -> None:
    assert mask_pans(text) == text


@pytest.mark.parametrize(
    "text",
    [
        f"card {PAN} declined",
        f"pan={PAN}",
        f'{{"pan": "{PAN}", "amount": 3.5}}',
        f"took 3.5 s for {PAN}",
        "card 4111 1111 1111 1111 at 12.25",
        f"PAN{PAN}.",
    ],
)
def test_log_masker_still_masks_real_pans(text: str) -> None:
    masked = mask_pans(text)
    assert "[PAN REDACTED]" in masked and PAN not in masked.replace(" ", "")
