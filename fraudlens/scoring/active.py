"""The model version being served together with the policy that applies to it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from fraudlens.scoring.config import Rules, ScoringConfig
from fraudlens.scoring.interfaces import ScoringModel


@dataclass(frozen=True, slots=True)
class ActiveModel:
    """An immutable snapshot swapped in one assignment, so a request never sees
    the new model with the old thresholds.

    Attributes:
        model: the loaded model version.
        config: the user config it was loaded under.
        rules: the rules in force (user config, else the rules file).
        review: effective review threshold.
        decline: effective decline threshold.
        loaded_at: when it became active.
    """

    model: ScoringModel
    config: ScoringConfig
    rules: Rules
    review: float
    decline: float
    loaded_at: datetime

    @classmethod
    def build(
        cls, model: ScoringModel, config: ScoringConfig, file_rules: Rules | None = None
    ) -> ActiveModel:
        """Combine a model with a config: config thresholds win over the model's."""
        thresholds = config.thresholds or model.thresholds
        return cls(
            model=model,
            config=config,
            rules=config.rules or file_rules or Rules(),
            review=float(thresholds.review),
            decline=float(thresholds.decline),
            loaded_at=datetime.now(UTC),
        )
