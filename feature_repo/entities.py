"""Feast entities: the card (by token, never the PAN), the terminal, the transaction."""

from __future__ import annotations

from feast import Entity, ValueType

card = Entity(
    name="card",
    join_keys=["card_token"],
    value_type=ValueType.STRING,
    description="A payment card, by its keyed-HMAC token (the PAN is never stored).",
)

terminal = Entity(
    name="terminal",
    join_keys=["terminal_id"],
    value_type=ValueType.STRING,
    description="A payment terminal (point of sale or e-commerce gateway).",
)

transaction = Entity(
    name="transaction",
    join_keys=["transaction_id"],
    value_type=ValueType.STRING,
    description="One transaction: the key of its feature row (training reads these).",
)
