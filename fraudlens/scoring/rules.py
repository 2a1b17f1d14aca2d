"""The decision policy: lists, hard limits and model thresholds.

Precedence, strongest first: a block list declines; an allow list approves;
otherwise the model score picks a decision by threshold and any hard limit can
only make it stricter (approve -> review -> decline).
"""

from __future__ import annotations

import math
from collections.abc import Mapping

from fraudlens.schema import Transaction
from fraudlens.scoring.config import Decision, EntityLists, Rules
from fraudlens.scoring.result import SEVERITY, RuleHit


def evaluate_rules(txn: Transaction, features: Mapping[str, float], rules: Rules) -> list[RuleHit]:
    """Return the rules that fire for one transaction.

    Limits on a feature that is missing or NaN (e.g. a velocity count while the
    online store is down) are skipped rather than guessed.
    """
    hits: list[RuleHit] = []
    kinds: tuple[tuple[EntityLists, Decision, str], ...] = (
        (rules.block, "decline", "block"),
        (rules.allow, "approve", "allow"),
    )
    for lists, action, word in kinds:
        if not len(lists):
            continue
        if txn.card_token in lists.cards:
            hits.append(RuleHit(f"{word}_card", action, f"card is on the {word} list"))
        if txn.terminal_id in lists.terminals:
            hits.append(
                RuleHit(
                    f"{word}_terminal", action, f"terminal {txn.terminal_id} is on the {word} list"
                )
            )
        if txn.merchant_id in lists.merchants:
            hits.append(
                RuleHit(
                    f"{word}_merchant", action, f"merchant {txn.merchant_id} is on the {word} list"
                )
            )
        if txn.country in lists.countries:
            hits.append(
                RuleHit(f"{word}_country", action, f"country {txn.country} is on the {word} list")
            )
    for limit in rules.limits:
        value = txn.amount if limit.field == "amount" else features.get(limit.field)
        if value is None or math.isnan(value) or value <= limit.max:
            continue
        template = limit.text or "{field} {value:,.2f} is above the limit {max:,.2f}"
        text = template.format(field=limit.field, value=value, max=limit.max)
        hits.append(RuleHit(limit.name, limit.action, text, float(value)))
    return hits


def model_decision(score: float, review: float, decline: float) -> Decision:
    """Decision from the score alone."""
    if score >= decline:
        return "decline"
    if score >= review:
        return "review"
    return "approve"


def decide(model: Decision, hits: list[RuleHit]) -> Decision:
    """Combine the model's decision with rule hits (see the module docstring)."""
    if any(hit.action == "decline" and hit.name.startswith("block_") for hit in hits):
        return "decline"
    if any(hit.action == "approve" for hit in hits):
        return "approve"
    decision = model
    for hit in hits:
        if SEVERITY[hit.action] > SEVERITY[decision]:
            decision = hit.action
    return decision
