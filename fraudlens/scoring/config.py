"""What a fraud team changes without retraining: thresholds, lists, limits, model alias.

A ``ScoringConfig`` is the Serve ``user_config`` of the scoring deployment
(applied in ``reconfigure()`` without a restart) and the configuration of the
stream scorer. Rules can also come from a YAML/JSON file (``serve.rules_file``).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, model_validator

from fraudlens.errors import ConfigError

Decision = Literal["approve", "review", "decline"]
Action = Literal["review", "decline"]

# Strict: ``max: false`` or ``"5"`` is an error, not a silent 0 or 5 (ints are fine).
Number = Annotated[float, Field(strict=True)]


def _any_items(schema: dict[str, Any]) -> None:
    schema.pop("uniqueItems", None)  # a repeated entry is harmless: lists are sets


Names = Annotated[frozenset[str], Field(json_schema_extra=_any_items)]


class ThresholdOverride(BaseModel):
    """Score thresholds that replace the ones stored with the model."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    review: Number = Field(ge=0, le=1)
    decline: Number = Field(ge=0, le=1)

    @model_validator(mode="after")
    def _ordered(self) -> ThresholdOverride:
        if self.review > self.decline:
            raise ValueError("thresholds.review must not exceed thresholds.decline")
        return self


class EntityLists(BaseModel):
    """Card tokens, terminals, merchants and countries on a list."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    cards: Names = frozenset()
    terminals: Names = frozenset()
    merchants: Names = frozenset()
    countries: Names = frozenset()

    def __len__(self) -> int:
        return len(self.cards) + len(self.terminals) + len(self.merchants) + len(self.countries)


class Limit(BaseModel):
    """A hard limit: a request field or a feature above ``max`` triggers ``action``.

    ``field`` is ``amount`` (the request amount) or the name of a model feature,
    e.g. a velocity count such as ``card_tx_count_10m``.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(pattern=r"^[a-z0-9_]{1,64}$")
    field: str
    max: Number
    action: Action = "review"
    text: str | None = Field(None, description="reason text; default names field and limit")


class Rules(BaseModel):
    """Decision rules applied on top of the model score."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    block: EntityLists = EntityLists()
    allow: EntityLists = EntityLists()
    limits: tuple[Limit, ...] = ()

    @model_validator(mode="after")
    def _unique_names(self) -> Rules:
        names = [limit.name for limit in self.limits]
        if len(names) != len(set(names)):
            raise ValueError("limit names must be unique")
        return self


class ScoringConfig(BaseModel):
    """Serve ``user_config`` of the scoring deployment.

    Attributes:
        model_alias: registry alias of the model to serve.
        model_version: pin one version (wins over the alias), e.g. for a rollback.
        thresholds: override the thresholds stored with the model.
        rules: lists and limits (None: the rules file, or no rules).
        max_reasons: model reasons returned per review/decline.
        degraded_review_amount: in degraded mode with no usable score, amounts
            above this are sent to review instead of approved.
        shadow: score the challenger in shadow.
        generation: bump to force a reload (e.g. after the alias moved).
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    model_alias: str = "champion"
    model_version: str | None = None
    thresholds: ThresholdOverride | None = None
    rules: Rules | None = None
    max_reasons: int = Field(3, ge=0, le=10)
    degraded_review_amount: float = Field(500.0, ge=0)
    shadow: bool = True
    generation: int = 0


def load_rules(path: Path) -> Rules:
    """Read rules from a YAML or JSON file.

    Raises:
        ConfigError: the file is missing or breaks the rules schema.
    """
    try:
        text = path.read_text()
        data = json.loads(text) if path.suffix == ".json" else yaml.safe_load(text)
        return Rules.model_validate(data or {})
    except (OSError, ValueError, yaml.YAMLError) as exc:
        raise ConfigError(f"rules file {path}: {exc}") from exc
