"""Request and response bodies of the scoring API (they make the OpenAPI docs)."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Annotated, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    SecretStr,
    StrictBool,
    ValidationInfo,
    field_validator,
)

from fraudlens.schema import ID_PATTERN, SCHEMA_VERSION, TOKEN_PATTERN, Label, Transaction
from fraudlens.scoring.config import Number, Rules
from fraudlens.scoring.result import Reason

Decision = Literal["approve", "review", "decline"]

_ISO_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")


def _iso_time(value: object) -> object:
    # Lax pydantic reads 0.5 or "1700000000" as epoch seconds: refuse them.
    if isinstance(value, datetime) or (isinstance(value, str) and _ISO_DATE.match(value)):
        return value
    raise ValueError("must be an ISO-8601 date-time string, e.g. 2026-06-01T12:00:00Z")


IsoTime = Annotated[datetime, BeforeValidator(_iso_time)]
"""A timestamp given as an ISO-8601 string (or a datetime), never as a number."""


def _no_bool(value: object) -> object:
    if isinstance(value, bool):  # True == 1 in Python
        raise ValueError("must be the number 1")
    return value


Version = Annotated[Literal[1], BeforeValidator(_no_bool)]


class ScoreRequest(Transaction):
    """A transaction to score: the schema's fields with a card token or a PAN.

    Send ``card_token`` when the card is already tokenized, or ``pan``: it is
    tokenized at the edge and never logged, stored or returned.
    """

    # Strict copies of the schema's fields: no bools for numbers, no numbers for times.
    schema_version: Version = SCHEMA_VERSION
    event_time: IsoTime
    card_token: str | None = Field(  # type: ignore[assignment]
        None, pattern=TOKEN_PATTERN, description="card token (tok_<kid>_<32 letters a-p>)"
    )
    amount: Number = Field(description="in major units of currency; 0 for a card check")
    latitude: Number | None = Field(None, ge=-90, le=90)
    longitude: Number | None = Field(None, ge=-180, le=180)
    pan: SecretStr | None = Field(
        None,
        description="card number; tokenized at once, never stored",
        max_length=23,
        validate_default=True,
    )

    @field_validator("pan")
    @classmethod
    def _one_card_reference(cls, pan: SecretStr | None, info: ValidationInfo) -> SecretStr | None:
        # Runs after card_token (field order); names "pan" in the error.
        if "card_token" in info.data and (info.data["card_token"] is None) == (pan is None):
            raise ValueError("send exactly one of card_token and pan")
        return pan


class BatchScoreRequest(BaseModel):
    """Many transactions scored in one call."""

    model_config = ConfigDict(extra="forbid")

    transactions: list[ScoreRequest] = Field(min_length=1)


class ScoreResponse(BaseModel):
    """The decision on one transaction."""

    transaction_id: str
    decision_id: str = Field(description="stable per transaction: one decision per transaction")
    score: float | None = Field(description="fraud probability; null if no model score")
    decision: Decision
    reasons: list[Reason]
    model_version: str
    latency_ms: float = Field(description="time spent in the service")
    degraded: bool = Field(description="scored without (part of) the stored features")
    degraded_cause: str | None = Field(
        None,
        description="why degraded: store_timeout, store_error, store_skipped (the store "
        "failed moments ago) or missing_features; null when not degraded",
    )


class BatchScoreResponse(BaseModel):
    """Decisions on a batch, in request order."""

    results: list[ScoreResponse]
    model_version: str
    latency_ms: float
    degraded: bool = Field(description="true if any transaction was scored degraded")


class SubmittedLabel(Label):
    """A label as the API takes it: the schema's ``Label``, with strict types."""

    schema_version: Version = SCHEMA_VERSION
    is_fraud: StrictBool
    label_time: IsoTime


class LabelsRequest(BaseModel):
    """Confirmed outcomes (fraud or legitimate) for earlier transactions."""

    model_config = ConfigDict(extra="forbid")

    labels: list[SubmittedLabel] = Field(min_length=1)


class LabelsResponse(BaseModel):
    """Labels accepted and published."""

    accepted: int
    topic: str


class Thresholds(BaseModel):
    """Effective decision thresholds."""

    review: float
    decline: float


class ModelInfo(BaseModel):
    """What the service is serving right now."""

    model_version: str
    model_alias: str
    pinned_version: str | None
    feature_service: str
    features: list[str]
    thresholds: Thresholds
    rules: dict[str, object]
    loaded_at: str
    last_refusal: dict[str, str] | None


class ErrorDetail(BaseModel):
    """One problem with a request."""

    field: str
    message: str


class ErrorResponse(BaseModel):
    """Body of every 4xx/5xx answer."""

    error: str = Field(description="machine-readable kind, e.g. invalid_request")
    field: str | None = Field(None, description="first offending field, dotted")
    message: str
    errors: list[ErrorDetail] = []


class PromoteRequest(BaseModel):
    """A model version to make champion."""

    model_config = ConfigDict(extra="forbid")

    version: str = Field(pattern=r"^[0-9]{1,12}$", description="registered model version")
    override_reason: str | None = Field(
        None,
        min_length=10,
        max_length=500,
        description="skip the promotion gate, for this reason (audited)",
    )


class PromoteResponse(BaseModel):
    """The gate's verdict (or the override) and where the aliases now point."""

    version: str
    previous_champion: str | None
    promoted: bool
    overridden: bool
    reasons: list[str]
    audit_hash: str


class RulesResponse(BaseModel):
    """The live rules and their version in the rule store (0: never set)."""

    version: int
    applied_version: int = Field(description="rule-store version this replica applies")
    updated_at: str | None
    updated_by: str | None
    rules: Rules
    audit_hash: str | None = None


class ErasureRequest(BaseModel):
    """A GDPR erasure request."""

    model_config = ConfigDict(extra="forbid")

    customer_id: str = Field(pattern=ID_PATTERN, description="the customer to erase")


class StoreErasureResult(BaseModel):
    """What erasure did in one store."""

    store: str
    files_scanned: int
    files_rewritten: int
    rows_removed: int


class ErasureResponse(BaseModel):
    """The erasure report: counts per store, no personal data."""

    subject_ref: str = Field(description="keyed reference to the customer (audit log)")
    card_tokens: int
    transactions: int
    stores: list[StoreErasureResult]
    rows_removed: int
    complete: bool
    pending: list[str]
    failed: dict[str, str]
    deferred: list[str]
    audit_hash: str


class AuditVerifyResponse(BaseModel):
    """Result of checking the audit log's hash chain."""

    ok: bool
    entries: int
    head: str
    problems: list[str]
