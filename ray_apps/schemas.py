"""Request and response bodies of the scoring API (they make the OpenAPI docs)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationInfo, field_validator

from fraudlens.schema import TOKEN_PATTERN, Label, Transaction
from fraudlens.scoring.result import Reason

Decision = Literal["approve", "review", "decline"]


class ScoreRequest(Transaction):
    """A transaction to score: the schema's fields with a card token or a PAN.

    Send ``card_token`` when the card is already tokenized, or ``pan``: it is
    tokenized at the edge and never logged, stored or returned.
    """

    card_token: str | None = Field(  # type: ignore[assignment]
        None, pattern=TOKEN_PATTERN, description="card token (tok_<kid>_<32 letters a-p>)"
    )
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
    decision_id: str = Field(description="stable per transaction and model version")
    score: float | None = Field(description="fraud probability; null if no model score")
    decision: Decision
    reasons: list[Reason]
    model_version: str
    latency_ms: float = Field(description="time spent in the service")
    degraded: bool = Field(description="scored without (part of) the stored features")


class BatchScoreResponse(BaseModel):
    """Decisions on a batch, in request order."""

    results: list[ScoreResponse]
    model_version: str
    latency_ms: float
    degraded: bool = Field(description="true if any transaction was scored degraded")


class LabelsRequest(BaseModel):
    """Confirmed outcomes (fraud or legitimate) for earlier transactions."""

    model_config = ConfigDict(extra="forbid")

    labels: list[Label] = Field(min_length=1)


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
