"""Bring your own data: import CSV/Parquet transaction history with a column mapping.

A mapping file (YAML) says which of your columns is which FraudLens field,
gives constants for fields your data lacks, and names a PAN or card-reference
column, which is tokenized on the way in and never written. Every row is
validated against the event schema; rejected rows are written, with the
field and the reason, to ``rejects.parquet`` beside the output: none is
silently dropped. Personal fields kept at rest (device id, IP address: see
``security.inventory.ENCRYPTED_FIELDS``) are written AES-GCM encrypted, bound
to the ``raw_history`` store, their column and the transaction id, so
``fraudlens keys rotate`` and ``privacy erase`` handle them like the other
stores; ``security.personal_fields`` has the code, and the replay decryption.

Example mapping (every field in ``REQUIRED_FIELDS`` needs a column or a
default; docs/import.md lists them all)::

    columns:               # FraudLens field: your column
      transaction_id: txn_id
      event_time: ts
      pan: card_number     # or card_reference: card_id
      customer_id: cust
      terminal_id: terminal
      merchant_id: merchant
      amount: amount
      is_fraud: fraud_flag
      label_time: chargeback_date
    defaults:              # constants for fields your data lacks
      mcc: "5411"
      currency: EUR
      channel: card_present
      entry_mode: chip
      country: FR
    timezone: UTC          # for naive timestamps
    amount_scale: 1.0      # 0.01 when amounts are in cents
    label_delay_days: 30   # label time when is_fraud is set but no label_time column
    extras:                # optional passthrough columns (fraudlens.features.extras)
      numeric:             # your column: default when a cell is empty
        device_score: 0.0
      categorical:         # your text column: default when a cell is empty
        device_type: unknown
"""

from __future__ import annotations

import logging
import numbers
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
import pydantic
import yaml
from pydantic import BaseModel, ConfigDict, Field, model_validator

from fraudlens.errors import ConfigError, DataError, TokenizationError, ValidationError
from fraudlens.features.categories import category_text
from fraudlens.features.extras import PREFIX, ExtrasMapping
from fraudlens.features.extras import column as extra_column
from fraudlens.features.online_ids import CODE_COLUMNS, code_columns
from fraudlens.history import write_import_info
from fraudlens.schema import (
    TRANSACTION_FIELDS,
    LabelSource,
    Transaction,
    extra_text,
    extra_value,
    parse_transaction,
)
from fraudlens.security.encryption import KeyRing
from fraudlens.security.personal_fields import encrypt_personal_fields
from fraudlens.security.tokenize import Tokenizer, normalize_pan

logger = logging.getLogger(__name__)

_CARD_SOURCES = ("pan", "card_reference", "card_token")
_LABEL_FIELDS = ("is_fraud", "label_time", "fraud_scenario")
_KNOWN = set(TRANSACTION_FIELDS) | set(_CARD_SOURCES) | set(_LABEL_FIELDS)
# Fields every row needs (a column or a default); the card comes from _CARD_SOURCES.
REQUIRED_FIELDS = tuple(
    name
    for name, info in Transaction.model_fields.items()
    if info.is_required() and name != "card_token"
)
# Identifiers: a number in the file (Parquet int or float columns) becomes text.
_ID_FIELDS = (
    "transaction_id",
    "customer_id",
    "terminal_id",
    "merchant_id",
    "device_id",
    "mcc",
    "card_last4",
    *_CARD_SOURCES,
)
_DIGITS = {"mcc": 4, "card_last4": 4}  # numeric codes whose leading zeros a number column loses


class ColumnMapping(BaseModel):
    """A validated mapping file."""

    model_config = ConfigDict(extra="forbid")

    columns: dict[str, str]
    defaults: dict[str, Any] = Field(default_factory=dict)
    timezone: str = "UTC"
    amount_scale: float = Field(1.0, gt=0)
    label_delay_days: float = Field(30.0, gt=0)
    extras: ExtrasMapping = Field(default_factory=ExtrasMapping)

    @model_validator(mode="after")
    def _check(self) -> ColumnMapping:
        unknown = (set(self.columns) | set(self.defaults)) - _KNOWN
        if unknown:
            raise ValueError(f"unknown FraudLens field(s): {', '.join(sorted(unknown))}")
        cards = [name for name in _CARD_SOURCES if name in self.columns]
        if len(cards) != 1:
            raise ValueError(
                f"map exactly one of {', '.join(_CARD_SOURCES)} (found {cards or 'none'})"
            )
        missing = [f for f in REQUIRED_FIELDS if f not in self.columns and f not in self.defaults]
        if missing:
            raise ValueError(
                f"required field(s) {', '.join(missing)} not mapped: map a column or set a "
                "default for each (columns: or defaults:, see docs/import.md)"
            )
        return self


def load_mapping(path: Path) -> ColumnMapping:
    """Read and validate a YAML mapping file.

    Raises:
        ConfigError: naming the file and what is wrong with it.
    """
    try:
        raw = yaml.safe_load(path.read_text())
        return ColumnMapping.model_validate(raw)
    except (OSError, yaml.YAMLError) as exc:
        raise ConfigError(f"{path}: cannot read mapping: {exc}") from exc
    except pydantic.ValidationError as exc:
        err = exc.errors()[0]
        where = ".".join(str(part) for part in err["loc"])
        message = err["msg"].removeprefix("Value error, ")
        raise ConfigError(
            f"{path}: invalid mapping: {where + ': ' if where else ''}{message}"
        ) from exc


@dataclass(frozen=True)
class ImportResult:
    """What an import wrote."""

    rows_in: int
    accepted: int
    rejected: int
    frauds: int
    transactions_path: Path
    labels_path: Path
    rejects_path: Path | None
    extra_columns: tuple[str, ...] = ()  # passthrough columns written (x_<name>)


def read_table(path: Path) -> pd.DataFrame:
    """Read a CSV or Parquet file (by extension)."""
    suffix = path.suffix.lower()
    try:
        if suffix == ".parquet":
            return pd.read_parquet(path)
        if suffix in {".csv", ".gz"}:
            return pd.read_csv(path, dtype=str, keep_default_na=False)
    except (OSError, ValueError) as exc:
        raise DataError(f"{path}: cannot read: {exc}") from exc
    raise DataError(f"{path}: unsupported file type {suffix!r} (use .csv or .parquet)")


def _card_token(value: Any, source: str, tokenizer: Tokenizer) -> str:
    if source == "pan":
        return tokenizer.tokenize(str(value))
    if source == "card_reference":
        return tokenizer.tokenize_reference(str(value))
    return str(value)


def _missing(value: Any) -> bool:
    if value is None or (isinstance(value, str) and not value.strip()):
        return True
    return bool(pd.api.types.is_scalar(value) and pd.isna(value))


def _id_text(field: str, value: Any) -> Any:
    """An id read as a number (Parquet int/float column) as text; other values unchanged."""
    if isinstance(value, bool | str) or not isinstance(value, numbers.Real):
        return value
    if isinstance(value, numbers.Integral):
        text = str(int(value))
    elif float(value).is_integer():
        text = str(int(float(value)))
    else:
        # The value is not quoted: in a card column it could be card digits.
        raise ValidationError(field, "a number with a fraction is not an id")
    return text.zfill(_DIGITS.get(field, 0))


def _extras(row: dict[str, Any], mapping: ColumnMapping) -> dict[str, float | str]:
    """The row's extras: an empty cell takes the declared default."""
    values: dict[str, float | str] = {}
    for name, default in mapping.extras.numeric.items():
        value = row[name]
        if _missing(value):
            values[name] = default
            continue
        try:
            values[name] = extra_value(name, value, numbers_only=False)
        except ValueError as exc:
            raise ValidationError(f"extras.{name}", str(exc)) from None
    for name, text in mapping.extras.categorical.items():
        found = category_text(row[name])
        try:
            values[name] = text if found is None else extra_text(name, found)
        except ValueError as exc:
            raise ValidationError(f"extras.{name}", str(exc)) from None
    return values


def _event(row: dict[str, Any], mapping: ColumnMapping, tokenizer: Tokenizer) -> dict[str, Any]:
    event: dict[str, Any] = dict(mapping.defaults)
    if mapping.extras.names:
        event["extras"] = _extras(row, mapping)
    for field, column in mapping.columns.items():
        value = row[column]
        if _missing(value):
            continue
        event[field] = value
    for field in _ID_FIELDS:
        if field in event:
            event[field] = _id_text(field, event[field])
    source = next(name for name in _CARD_SOURCES if name in mapping.columns)
    if source not in event:
        raise ValidationError(source, "field is required")
    try:
        card = event.pop(source)
        event["card_token"] = _card_token(card, source, tokenizer)
        if source == "pan":  # the truncated number analysts may see (PCI DSS)
            event["card_last4"] = normalize_pan(str(card))[-4:]
    except TokenizationError as exc:
        raise ValidationError(source, str(exc)) from None
    event.pop("pan", None)
    if "amount" in event:
        try:
            event["amount"] = round(float(event["amount"]) * mapping.amount_scale, 2)
        except ValueError:
            raise ValidationError("amount", f"not a number: {event['amount']!r}") from None
    if "event_time" in event:
        try:
            stamp = pd.Timestamp(event["event_time"])
        except ValueError:
            raise ValidationError(
                "event_time", f"not a timestamp: {event['event_time']!r}"
            ) from None
        if stamp.tzinfo is None:
            stamp = stamp.tz_localize(mapping.timezone)
        event["event_time"] = stamp.tz_convert("UTC").to_pydatetime()
    return event


def import_transactions(
    input_path: Path,
    mapping: ColumnMapping,
    out_dir: Path,
    tokenizer: Tokenizer,
    *,
    keyring: KeyRing,
    max_amount: float = 1_000_000.0,
    max_future_seconds: float = 300.0,
) -> ImportResult:
    """Import a CSV/Parquet history into FraudLens Parquet files.

    Writes ``transactions.parquet`` and ``labels.parquet`` (the same layout as
    the simulator's, personal fields encrypted with ``keyring``),
    ``rejects.parquet`` for rows that failed validation and ``import.json``
    (counts and the mapping's label delay, read by training).

    Raises:
        DataError: the file cannot be read, lacks a mapped column, or no row
            passed validation (the message names the most common reason).
    """
    frame = read_table(input_path)
    wanted = set(mapping.columns.values()) | set(mapping.extras.names)
    missing = sorted(wanted - set(frame.columns))
    if missing:
        raise DataError(f"{input_path}: mapped column(s) not found: {', '.join(missing)}")

    accepted: list[dict[str, Any]] = []
    rejects: list[dict[str, Any]] = []
    for index, row in enumerate(frame.to_dict("records")):
        try:
            event = _event(row, mapping, tokenizer)
            labels = {k: event.pop(k) for k in _LABEL_FIELDS if k in event}
            txn = parse_transaction(
                event, max_amount=max_amount, max_future_seconds=max_future_seconds
            )
        except ValidationError as exc:
            rejects.append({"row": index, "field": exc.field, "reason": exc.reason})
            continue
        accepted.append({**txn.model_dump(mode="python"), **labels})

    out_dir.mkdir(parents=True, exist_ok=True)
    rejects_path = None
    if rejects:
        rejects_path = out_dir / "rejects.parquet"
        pd.DataFrame(rejects).to_parquet(rejects_path, index=False)
        logger.warning("%d of %d rows rejected; see %s", len(rejects), len(frame), rejects_path)
    if not accepted:
        raise DataError(_nothing_accepted(input_path, len(frame), rejects, rejects_path))
    transactions = _transactions_frame(accepted, mapping)
    labels = _labels_frame(transactions)
    paths = (out_dir / "transactions.parquet", out_dir / "labels.parquet")
    # The device / IP codes features compare, while the values are in clear here.
    transactions = transactions.assign(**code_columns({c: transactions[c] for c in CODE_COLUMNS}))
    encrypt_personal_fields(transactions, keyring).to_parquet(paths[0], index=False)
    labels.to_parquet(paths[1], index=False)
    # Training reads the label delay from here (fraudlens.history).
    write_import_info(
        out_dir,
        {
            "source": input_path.name,
            "rows_in": len(frame),
            "accepted": len(transactions),
            "rejected": len(rejects),
            "label_delay_days": mapping.label_delay_days,
            "label_time_column": "label_time" in mapping.columns,
            # Passthrough columns: written as x_<name>; training reads them from here.
            "extras": {
                "numeric": mapping.extras.numeric,
                "categorical": mapping.extras.categorical,
                "column_prefix": PREFIX,
            },
        },
    )
    return ImportResult(
        rows_in=len(frame),
        accepted=len(transactions),
        rejected=len(rejects),
        frauds=len(labels),
        transactions_path=paths[0],
        labels_path=paths[1],
        rejects_path=rejects_path,
        extra_columns=tuple(extra_column(name) for name in mapping.extras.names),
    )


def _nothing_accepted(
    source: Path, rows: int, rejects: list[dict[str, Any]], rejects_path: Path | None
) -> str:
    if not rejects:
        return f"{source}: no rows to import"
    field, count = Counter(r["field"] for r in rejects).most_common(1)[0]
    reasons = Counter(r["reason"] for r in rejects if r["field"] == field)
    return (
        f"{source}: no row accepted, all {rows} rejected; most common: field {field} "
        f"({count} rows), e.g. {reasons.most_common(1)[0][0]} (all rejects: {rejects_path})"
    )


def _truthy(value: Any) -> bool:
    if isinstance(value, str):
        return value.strip().lower() in {"1", "true", "yes", "y", "t", "fraud"}
    return bool(value)


def _transactions_frame(rows: list[dict[str, Any]], mapping: ColumnMapping) -> pd.DataFrame:
    columns = [*TRANSACTION_FIELDS, "is_fraud", "fraud_scenario", "label_time"]
    frame = pd.DataFrame(rows, columns=columns)
    for enum_col in ("channel", "entry_mode"):
        frame[enum_col] = frame[enum_col].map(lambda v: getattr(v, "value", v))
    frame["event_time"] = pd.to_datetime(frame["event_time"], utc=True).astype(
        "datetime64[us, UTC]"
    )
    frame["is_fraud"] = frame["is_fraud"].map(_truthy).astype(bool)
    label_time = pd.to_datetime(frame["label_time"], utc=True, errors="coerce")
    default_label = frame["event_time"] + pd.Timedelta(days=mapping.label_delay_days)
    frame["label_time"] = label_time.where(label_time.notna(), default_label)
    frame.loc[~frame["is_fraud"], "label_time"] = pd.NaT
    frame["label_time"] = frame["label_time"].astype("datetime64[us, UTC]")
    for name in mapping.extras.numeric:
        frame[extra_column(name)] = pd.Series([r["extras"][name] for r in rows], dtype="float64")
    for name in mapping.extras.categorical:
        frame[extra_column(name)] = pd.Series([r["extras"][name] for r in rows], dtype=object)
    return frame.sort_values(["event_time", "transaction_id"], kind="stable").reset_index(drop=True)


def _labels_frame(transactions: pd.DataFrame) -> pd.DataFrame:
    frauds = transactions.loc[transactions["is_fraud"]]
    labels = pd.DataFrame(
        {
            "transaction_id": frauds["transaction_id"],
            "is_fraud": True,
            "label_time": frauds["label_time"],
            "source": LabelSource.CHARGEBACK.value,
            "fraud_scenario": frauds["fraud_scenario"],
        }
    )
    return labels.sort_values(["label_time", "transaction_id"], kind="stable").reset_index(
        drop=True
    )
