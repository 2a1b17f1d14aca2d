"""The decision policy: lists, hard limits and model thresholds.

Precedence, strongest first: a block list declines; an allow list approves;
otherwise the model score picks a decision by threshold and any hard limit can
only make it stricter (approve -> review -> decline).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import numpy as np

from fraudlens.schema import Transaction
from fraudlens.scoring.config import Decision, EntityLists, Limit, Rules
from fraudlens.scoring.result import SEVERITY, RuleHit


def _list_hits(txn: Transaction, rules: Rules) -> list[RuleHit]:
    """The block and allow list entries ``txn`` is on (block lists first)."""
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
    return hits


def _limit_hit(limit: Limit, value: float) -> RuleHit:
    """The hit of a limit that ``value`` exceeds."""
    template = limit.text or "{field} {value:,.2f} is above the limit {max:,.2f}"
    text = template.format(field=limit.field, value=value, max=limit.max)
    return RuleHit(limit.name, limit.action, text, float(value))


def evaluate_rules(txn: Transaction, features: Mapping[str, float], rules: Rules) -> list[RuleHit]:
    """Return the rules that fire for one transaction.

    Limits on a feature that is missing or NaN (e.g. a velocity count while the
    online store is down) are skipped rather than guessed.
    """
    hits = _list_hits(txn, rules)
    for limit in rules.limits:
        value = txn.amount if limit.field == "amount" else features.get(limit.field)
        if value is None or math.isnan(value) or value <= limit.max:
            continue
        hits.append(_limit_hit(limit, value))
    return hits


def evaluate_batch(
    txns: Sequence[Transaction], names: Sequence[str], values: np.ndarray, rules: Rules
) -> list[list[RuleHit]]:
    """``evaluate_rules`` for every row of a batch (row i: ``txns[i]``, ``values[i]``).

    Each limit is compared over the whole column at once; hits are built only
    for the rows where it fires, in the same order as ``evaluate_rules``.
    """
    lists = len(rules.block) or len(rules.allow)
    hits = [_list_hits(txn, rules) if lists else [] for txn in txns]
    columns = {name: j for j, name in enumerate(names)}
    for limit in rules.limits:
        if limit.field == "amount":
            column = np.array([txn.amount for txn in txns], dtype=np.float64)
        elif limit.field in columns:
            column = values[:, columns[limit.field]]
        else:
            continue  # a feature the model does not have: missing, skipped
        for i in np.flatnonzero(column > limit.max).tolist():  # NaN never fires
            value = txns[i].amount if limit.field == "amount" else float(column[i])
            hits[i].append(_limit_hit(limit, value))
    return hits


def model_decisions(scores: np.ndarray, review: float, decline: float) -> list[Decision]:
    """``model_decision`` of every score (NaN: ``approve``; callers decide those)."""
    out = np.full(len(scores), "approve", dtype=object)
    out[scores >= review] = "review"
    out[scores >= decline] = "decline"
    decisions: list[Decision] = out.tolist()
    return decisions


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
