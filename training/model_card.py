"""A markdown model card per registered version (logged with the run and as its description)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime

import pandas as pd

from fraudlens.features.categories import Vocabulary, model_vocabularies
from fraudlens.features.delay import model_delay
from fraudlens.features.extras import column, model_defaults
from fraudlens.model import FraudModel
from training.evaluate import HEADLINE, Evaluation

_INTENDED = (
    "Scores card transactions for fraud in real time (probability in [0, 1]). "
    "Scores at or above the review threshold go to an analyst queue; at or above "
    "the decline threshold the transaction is declined. The model supports analysts; "
    "it is not the only control."
)
_LIMITS = (
    "- Trained on the data range below only; fraud patterns that did not occur there "
    "(or only after `train_end`) are not learned.\n"
    "- Frauds whose labels had not arrived by the training cutoff were not taught as "
    "fraud (see `late_labels`), so quickly reported fraud types weigh more than slowly "
    "reported ones.\n"
    "- Terminal and card windows reach 30 days back: rows near the start of the data "
    "have truncated history.\n"
    "- Thresholds were chosen for the alert budget on validation data; alert volume "
    "moves with the fraud mix and traffic, so watch the alert rate after deployment.\n"
    "- Scores are calibrated on validation data; recalibrate if the fraud rate changes."
)


def constant_features(frame: pd.DataFrame, features: Sequence[str]) -> list[str]:
    """Features with a single value (missing counts as one) in ``frame``."""
    return [name for name in features if frame[name].nunique(dropna=False) <= 1]


def model_card(
    *,
    name: str,
    model: FraudModel,
    lineage: Mapping[str, str],
    choices: Mapping[str, object],
    counts: Mapping[str, int],
    validation: Evaluation,
    test: Evaluation,
    constant_columns: Sequence[str] = (),
) -> str:
    """Render the card.

    Args:
        name: registered model name.
        model: the registered model (its ``version`` is set).
        lineage: data range, split boundaries, fingerprint, code version.
        choices: what validation chose (imbalance weights, blend weight).
        counts: rows per period and left-out rows.
        validation: metrics on the validation period.
        test: metrics on the test period (never used for any choice).
        constant_columns: features with one value in the training rows.
    """
    t = model.thresholds
    lines = [
        f"# Model card: {name} version {model.version}",
        "",
        f"Generated {datetime.now(UTC).isoformat(timespec='seconds')}.",
        "",
        "## Intended use",
        _INTENDED,
        "",
        "## Model",
        "- Ensemble of an XGBoost booster and an MLP, averaged in log-odds, then "
        "Platt-calibrated (weights chosen on validation).",
        *_members(model.weight),
        *[f"- {key}: {value}" for key, value in choices.items()],
        f"- Thresholds: review >= {t.review:.4f}, decline >= {t.decline:.4f}",
        "",
        "## Data and lineage",
        f"- Feature service: `{model.feature_service}` ({len(model.feature_names)} features)",
        *_delay(model),
        *[f"- {key}: {value}" for key, value in lineage.items()],
        *[f"- {key}: {value}" for key, value in counts.items()],
        "",
        "## Headline metrics",
        "| metric | validation | test |",
        "|---|---|---|",
        *[
            f"| {key} | {validation.metrics[key]:.4f} | {test.metrics[key]:.4f} |"
            for key in (*HEADLINE, "precision_at_budget", "recall_at_budget")
        ],
        "",
        "## Test period in detail",
        test.markdown(),
        "",
        "## Features",
        ", ".join(f"`{n}`" for n in model.feature_names),
        "",
        *_passthrough(model_defaults(model)),
        *_categorical(model_vocabularies(model)),
        *_constant(constant_columns, len(model.feature_names)),
        "## Limitations",
        _LIMITS,
        "",
    ]
    return "\n".join(lines)


def _delay(model: FraudModel) -> list[str]:
    """The matured-window delay the model was trained with (serving must use the same)."""
    delay = model_delay(model.metadata, model.feature_names)
    if delay is None:
        return ["- Matured terminal risk: no `term_matured_*` feature among the inputs"]
    return [
        f"- Matured terminal risk: windows ending {delay} days before the transaction "
        "(`features.matured_delay_days`); serving refuses this model under another value"
    ]


def _members(xgb_weight: float) -> list[str]:
    """Say plainly when validation left a member out (ensemble weight 0)."""
    if xgb_weight >= 1.0:
        return ["- MLP weight 0: not used (the XGBoost member alone gives the score)."]
    if xgb_weight <= 0.0:
        return ["- XGBoost weight 0: not used (the MLP member alone gives the score)."]
    return [f"- Ensemble weights on log-odds: XGBoost {xgb_weight:.2f}, MLP {1 - xgb_weight:.2f}."]


def _passthrough(defaults: Mapping[str, float]) -> list[str]:
    """List the import's passthrough columns and the default a request without one gets."""
    if not defaults:
        return []
    listed = ", ".join(f"`{column(n)}` (default {v:g})" for n, v in defaults.items())
    return [
        f"Passthrough columns of the import ({len(defaults)}), sent in a request's `extras`; "
        f"a missing value takes its default: {listed}",
        "",
    ]


def _categorical(vocabularies: Sequence[Vocabulary]) -> list[str]:
    """Each categorical extra: its vocabulary size (one-hot columns) and default."""
    if not vocabularies:
        return []
    listed = ", ".join(
        f"`{v.column}`: {len(v.values)} values + other (columns `{v.column}__0`.. and "
        f"`{v.columns[-1]}`, default '{v.default}')"
        for v in vocabularies
    )
    return [
        f"Categorical passthrough columns of the import ({len(vocabularies)}), sent in a "
        "request's `extras` as text and one-hot encoded with the vocabulary learned on the "
        "training rows (a value outside it counts as other; a missing one takes its "
        f"default): {listed}",
        "",
    ]


def _constant(names: Sequence[str], total: int) -> list[str]:
    """Warn about features that had one value in training: they carry no signal."""
    if not names:
        return []
    return [
        f"**Warning: {len(names)} of {total} features were constant in the training rows** "
        "and carry no signal (typical of data without merchant, channel or geography "
        "fields): " + ", ".join(f"`{n}`" for n in names),
        "",
    ]
