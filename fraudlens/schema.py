"""Versioned event schema: card transactions and fraud labels.

Events travel as JSON. ``parse_transaction`` / ``parse_label`` turn raw bytes
or dicts into validated models, or raise ``ValidationError`` naming the field.
The card number never appears here: only ``card_token`` (see
``fraudlens.security.tokenize``).
"""

from __future__ import annotations

import ipaddress
import json
import math
import re
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any, Literal

import pydantic
from pydantic import BaseModel, ConfigDict, Field, field_validator

from fraudlens.errors import ValidationError
from fraudlens.security.pan_scan import find_pans

SCHEMA_VERSION: Literal[1] = 1

ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$"
# Token digests use the letters a-p for the 16 hex values: a token never holds a
# digit run that could pass for a card number in logs or scans.
TOKEN_PATTERN = r"^tok_[A-Za-z0-9]{1,16}_[a-p]{32}$"
# Passthrough columns (``extras``): names declared by the import mapping.
EXTRA_NAME_PATTERN = r"^[A-Za-z][A-Za-z0-9_]{0,47}$"
MAX_EXTRAS = 256
# A categorical extra's value is text of at most this many characters.
MAX_EXTRA_TEXT = 64
# In Parquet (imported history) an extra is the column ``x_<name>``.
EXTRA_COLUMN_PREFIX = "x_"
_EXTRA_NAME = re.compile(EXTRA_NAME_PATTERN)

# ISO 4217 codes accepted for amounts.
CURRENCIES = frozenset(
    "AED ARS AUD BDT BGN BRL CAD CHF CLP CNY COP CZK DKK EGP EUR GBP HKD HUF IDR ILS "
    "INR ISK JPY KES KRW MAD MXN MYR NGN NOK NZD PEN PHP PKR PLN QAR RON RSD SAR SEK "
    "SGD THB TRY TWD UAH USD VND ZAR".split()
)

# ISO 3166-1 alpha-2 country codes.
COUNTRIES = frozenset(
    "AD AE AF AG AI AL AM AO AQ AR AS AT AU AW AX AZ BA BB BD BE BF BG BH BI BJ BL BM BN BO "
    "BQ BR BS BT BV BW BY BZ CA CC CD CF CG CH CI CK CL CM CN CO CR CU CV CW CX CY CZ DE DJ "
    "DK DM DO DZ EC EE EG EH ER ES ET FI FJ FK FM FO FR GA GB GD GE GF GG GH GI GL GM GN GP "
    "GQ GR GS GT GU GW GY HK HM HN HR HT HU ID IE IL IM IN IO IQ IR IS IT JE JM JO JP KE KG "
    "KH KI KM KN KP KR KW KY KZ LA LB LC LI LK LR LS LT LU LV LY MA MC MD ME MF MG MH MK ML "
    "MM MN MO MP MQ MR MS MT MU MV MW MX MY MZ NA NC NE NF NG NI NL NO NP NR NU NZ OM PA PE "
    "PF PG PH PK PL PM PN PR PS PT PW PY QA RE RO RS RU RW SA SB SC SD SE SG SH SI SJ SK SL "
    "SM SN SO SR SS ST SV SX SY SZ TC TD TF TG TH TJ TK TL TM TN TO TR TT TV TW TZ UA UG UM "
    "US UY UZ VA VC VE VG VI VN VU WF WS YE YT ZA ZM ZW".split()
)


class Channel(StrEnum):
    """How the card was used."""

    CARD_PRESENT = "card_present"
    ECOMMERCE = "ecommerce"
    MOTO = "moto"
    ATM = "atm"


class EntryMode(StrEnum):
    """How the card data was captured."""

    CHIP = "chip"
    CONTACTLESS = "contactless"
    MAGSTRIPE = "magstripe"
    KEYED = "keyed"
    ECOM_3DS = "ecom_3ds"
    ECOM_NO_3DS = "ecom_no_3ds"


class LabelSource(StrEnum):
    """Where a fraud label came from."""

    CHARGEBACK = "chargeback"
    CUSTOMER_REPORT = "customer_report"
    ANALYST = "analyst"


def extra_text(name: str, value: str) -> str:
    """A categorical extra's value: stripped, printable, at most ``MAX_EXTRA_TEXT`` long.

    Raises:
        ValueError: naming the extra: empty, too long, with control characters, or
            holding a card number (the value itself is not repeated then).
    """
    text = value.strip()
    if not text:
        raise ValueError(f"extra {name}: empty text")
    if len(text) > MAX_EXTRA_TEXT:
        raise ValueError(f"extra {name}: text longer than {MAX_EXTRA_TEXT} characters")
    if not text.isprintable():
        raise ValueError(f"extra {name}: text with control characters")
    if find_pans(text):
        raise ValueError(f"extra {name}: holds a card number; not accepted in clear")
    return text


def _utc(value: datetime) -> datetime:
    if value.tzinfo is None:
        raise ValueError("must carry a timezone (e.g. 2026-06-01T12:00:00Z)")
    return value.astimezone(UTC)


def extra_value(name: str, value: Any, *, numbers_only: bool = True) -> float:
    """A passthrough extra's value as a finite float (the one check, for events and imports).

    Args:
        name: the extra, named in the error.
        value: the value. With ``numbers_only`` (events: JSON numbers) text is
            refused; without it (an imported cell, a mapping's default) a number
            written as text is parsed.

    Raises:
        ValueError: ``extra <name>: ...``: not a number (a bool is not one) or not finite.
    """
    if isinstance(value, bool) or (numbers_only and not isinstance(value, int | float)):
        raise ValueError(f"extra {name}: not a number: {value!r}")
    try:
        number = float(value)
    except OverflowError:  # an integer beyond float's range: not echoed (thousands of digits)
        raise ValueError(
            f"extra {name}: must be a finite number, got one beyond float range"
        ) from None
    except (TypeError, ValueError):
        raise ValueError(f"extra {name}: not a number: {value!r}") from None
    if not math.isfinite(number):
        raise ValueError(f"extra {name}: must be a finite number, got {value!r}")
    return number


class Transaction(BaseModel):
    """One card transaction (schema version 1)."""

    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)

    schema_version: Literal[1] = SCHEMA_VERSION
    transaction_id: str = Field(pattern=ID_PATTERN)
    event_time: datetime
    card_token: str = Field(pattern=TOKEN_PATTERN)
    card_last4: str | None = Field(
        None,
        pattern=r"^[0-9]{4}$",
        description="last four digits of the card number (PCI DSS truncation), where known",
    )
    customer_id: str = Field(pattern=ID_PATTERN)
    terminal_id: str = Field(pattern=ID_PATTERN)
    merchant_id: str = Field(pattern=ID_PATTERN)
    mcc: str = Field(pattern=r"^[0-9]{4}$", description="merchant category code")
    amount: float = Field(description="in major units of currency; 0 for a card check")
    currency: str
    channel: Channel
    entry_mode: EntryMode
    country: str = Field(description="ISO 3166-1 alpha-2 of the terminal")
    latitude: float | None = Field(None, ge=-90, le=90)
    longitude: float | None = Field(None, ge=-180, le=180)
    device_id: str | None = Field(None, pattern=ID_PATTERN)
    ip_address: str | None = None
    extras: dict[str, float | str] | None = Field(
        None,
        description="passthrough columns declared by the import mapping: name -> finite "
        f"number (numeric extras) or text of at most {MAX_EXTRA_TEXT} characters "
        "(categorical extras) (docs/import.md)",
    )

    _v_time = field_validator("event_time")(_utc)

    @field_validator("amount")
    @classmethod
    def _amount(cls, value: float) -> float:
        # Zero is an authorisation check (scored like any transaction); a refund is
        # not a transaction to score (docs/import.md says how to map them).
        if not math.isfinite(value):
            raise ValueError("must be a finite number")
        if value < 0:
            raise ValueError("must not be negative (0 or more; refunds are not scored)")
        return value

    @field_validator("currency")
    @classmethod
    def _currency(cls, value: str) -> str:
        if value not in CURRENCIES:
            raise ValueError(f"unknown currency {value!r} (ISO 4217 code expected)")
        return value

    @field_validator("country")
    @classmethod
    def _country(cls, value: str) -> str:
        if value not in COUNTRIES:
            raise ValueError(f"unknown country {value!r} (ISO 3166-1 alpha-2 expected)")
        return value

    @field_validator("ip_address")
    @classmethod
    def _ip(cls, value: str | None) -> str | None:
        if value is not None:
            ipaddress.ip_address(value)
        return value

    @field_validator("extras", mode="before")
    @classmethod
    def _extras(cls, value: Any) -> Any:
        # JSON numbers (finite) or short text; a bool or null is refused by name.
        if value is None:
            return None
        if not isinstance(value, dict):
            raise ValueError("must be an object of name: number or text")
        if len(value) > MAX_EXTRAS:
            raise ValueError(f"at most {MAX_EXTRAS} extras")
        out: dict[str, float | str] = {}
        for name, item in value.items():
            if not isinstance(name, str) or not _EXTRA_NAME.match(name):
                raise ValueError(f"extra {name!r}: a name is a letter then letters, digits or _")
            if isinstance(item, str):
                out[name] = extra_text(name, item)
            elif isinstance(item, int | float) and not isinstance(item, bool):
                out[name] = extra_value(name, item)
            else:
                raise ValueError(f"extra {name}: not a number or text: {item!r}")
        return out


class Label(BaseModel):
    """A confirmed outcome for one transaction, arriving after it."""

    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)

    schema_version: Literal[1] = SCHEMA_VERSION
    transaction_id: str = Field(pattern=ID_PATTERN)
    is_fraud: bool
    label_time: datetime
    source: LabelSource
    fraud_scenario: str | None = Field(None, max_length=64)
    author: str | None = Field(None, max_length=128, description="who gave it (analyst labels)")

    _v_time = field_validator("label_time")(_utc)


# The scalar fields (one column each in Parquet); ``extras`` travels as ``x_<name>`` columns.
TRANSACTION_FIELDS = tuple(name for name in Transaction.model_fields if name != "extras")
LABEL_FIELDS = tuple(Label.model_fields)


def _first_error(exc: pydantic.ValidationError) -> ValidationError:
    err = exc.errors()[0]
    field = ".".join(str(part) for part in err["loc"]) or "$"
    message = err["msg"].removeprefix("Value error, ")
    if err["type"] == "missing":
        message = "field is required"
    elif err["type"] == "extra_forbidden":
        message = "unknown field"
    return ValidationError(field, message)


def _load(raw: bytes | str | dict[str, Any]) -> dict[str, Any]:
    if isinstance(raw, dict):
        return raw
    try:
        data = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ValidationError("$", f"not valid JSON: {exc}") from exc
    if not isinstance(data, dict):
        raise ValidationError("$", "a JSON object is expected")
    return data


def _check_future(
    field: str, value: datetime, max_future_seconds: float, now: datetime | None
) -> None:
    limit = (now or datetime.now(UTC)) + timedelta(seconds=max_future_seconds)
    if value > limit:
        raise ValidationError(
            field, f"{value.isoformat()} is in the future (limit {limit.isoformat()})"
        )


def check_limits(
    txn: Transaction,
    *,
    max_amount: float = 1_000_000.0,
    max_future_seconds: float = 300.0,
    now: datetime | None = None,
) -> None:
    """The limits set by configuration, beyond the schema: largest amount, clock skew.

    Raises:
        ValidationError: naming ``amount`` or ``event_time``.
    """
    if txn.amount > max_amount:
        raise ValidationError("amount", f"{txn.amount} exceeds the maximum {max_amount}")
    _check_future("event_time", txn.event_time, max_future_seconds, now)


def parse_transaction(
    raw: bytes | str | dict[str, Any],
    *,
    max_amount: float = 1_000_000.0,
    max_future_seconds: float = 300.0,
    now: datetime | None = None,
) -> Transaction:
    """Validate one transaction event.

    Raw JSON is validated in one pydantic-core pass over the text (no
    ``json.loads`` dict and strings per message for the collector). Anything
    that pass refuses is read again in two steps (``json.loads``, then the
    model), which gives the error its field and message as before and still
    accepts what only ``json.loads`` reads (a UTF-8 BOM, UTF-16).
    ``tests/unit/test_schema_one_pass.py`` checks that the one pass never
    accepts what the two steps refuse, nor reads it differently.

    Raises:
        ValidationError: naming the first offending field.
    """
    txn = None
    if not isinstance(raw, dict):
        try:
            txn = Transaction.model_validate_json(raw)
        except pydantic.ValidationError:
            pass  # the two-step read below says why
    if txn is None:
        try:
            txn = Transaction.model_validate(_load(raw))
        except pydantic.ValidationError as exc:
            raise _first_error(exc) from None
    check_limits(txn, max_amount=max_amount, max_future_seconds=max_future_seconds, now=now)
    return txn


_TRANSACTION_KEYS = frozenset(Transaction.model_fields)


def validated_transaction(values: dict[str, Any]) -> Transaction:
    """A ``Transaction`` from values that already passed every check of its fields.

    For the validated values of a model that extends ``Transaction`` (the
    scoring API's ``ScoreRequest`` keeps all its validators and only makes
    some inputs stricter): validating them a second time cannot fail and, at
    a few microseconds a row, was a large share of a 1,000-row API call.
    What ``Transaction.model_construct`` does, without its per-field loop
    over defaults and aliases (``values`` holds every field). The fields set
    are the ones not None, as validating the non-None values records them.

    Raises:
        ValueError: ``values`` are not exactly the fields of ``Transaction``.
    """
    if values.keys() != _TRANSACTION_KEYS:
        raise ValueError(
            f"not the fields of Transaction: {sorted(values.keys() ^ _TRANSACTION_KEYS)}"
        )
    txn = Transaction.__new__(Transaction)
    _set(txn, "__dict__", values)
    _set(txn, "__pydantic_fields_set__", {k for k, v in values.items() if v is not None})
    _set(txn, "__pydantic_extra__", None)
    _set(txn, "__pydantic_private__", None)
    return txn


_set = object.__setattr__  # as pydantic's model_construct: the model is frozen


def parse_label(
    raw: bytes | str | dict[str, Any],
    *,
    max_future_seconds: float = 300.0,
    now: datetime | None = None,
) -> Label:
    """Validate one label event.

    Raises:
        ValidationError: naming the first offending field.
    """
    try:
        label = Label.model_validate(_load(raw))
    except pydantic.ValidationError as exc:
        raise _first_error(exc) from None
    _check_future("label_time", label.label_time, max_future_seconds, now)
    return label


def to_json(event: BaseModel) -> bytes:
    """Serialize an event the way it travels on Kafka."""
    return event.model_dump_json(exclude_none=True).encode()
