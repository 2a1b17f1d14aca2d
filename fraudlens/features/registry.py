"""The feature registry: every feature's name, type and plain-English meaning.

``definitions`` computes exactly these features; the Feast repo builds its
ODFV schemas from this list, and docs/model cards can print it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from fraudlens.features.state import DEFAULT_MATURED_DELAY_DAYS, US_PER_DAY, US_PER_SECOND

# Card windows: (suffix, width in microseconds).
WINDOWS: tuple[tuple[str, int], ...] = (
    ("10m", 600 * US_PER_SECOND),
    ("1h", 3600 * US_PER_SECOND),
    ("1d", US_PER_DAY),
    ("7d", 7 * US_PER_DAY),
    ("30d", 30 * US_PER_DAY),
)
# Terminal windows: whole UTC days before the request's day.
TERMINAL_DAY_WINDOWS: tuple[int, ...] = (1, 7, 30)
# The terminal's usual amount: whole UTC days before the request's day.
TERMINAL_AMOUNT_DAYS = 30
# Matured terminal risk: the window [today - delay - w, today - delay) in whole
# UTC days, so recent transactions whose labels cannot be known yet do not
# dilute the fraud rate; the delay is the setting ``features.matured_delay_days``.
MATURED_WINDOWS: tuple[int, ...] = (7, 30)
_WINDOW_WORDS = {
    "10m": "10 minutes",
    "1h": "hour",
    "1d": "24 hours",
    "7d": "7 days",
    "30d": "30 days",
}

Dtype = Literal["int64", "float64"]


@dataclass(frozen=True, slots=True)
class FeatureSpec:
    """One feature: its name, value type, entity and meaning."""

    name: str
    dtype: Dtype
    entity: Literal["card", "terminal", "transaction"]
    description: str


def _card_specs() -> tuple[FeatureSpec, ...]:
    specs: list[FeatureSpec] = []
    for suffix, _ in WINDOWS:
        last = f"in the last {_WINDOW_WORDS[suffix]}"
        specs += [
            FeatureSpec(f"card_tx_count_{suffix}", "int64", "card", f"card transactions {last}"),
            FeatureSpec(f"card_amount_sum_{suffix}", "float64", "card", f"total amount {last}"),
            FeatureSpec(f"card_amount_mean_{suffix}", "float64", "card", f"mean amount {last}"),
            FeatureSpec(f"card_amount_max_{suffix}", "float64", "card", f"largest amount {last}"),
        ]
    for what in ("terminals", "merchants", "countries"):
        for suffix in ("1d", "30d"):
            specs.append(
                FeatureSpec(
                    f"card_distinct_{what}_{suffix}",
                    "int64",
                    "card",
                    f"distinct {what} the card used in the last {_WINDOW_WORDS[suffix]}",
                )
            )
    for what in ("terminal", "merchant", "country"):
        specs.append(
            FeatureSpec(
                f"card_new_{what}_30d",
                "int64",
                "card",
                f"1 if the card has not used this {what} in the last 30 days",
            )
        )
    unknown = "-1 without one, or when not found and the card's earlier ones are unknown"
    specs += [
        FeatureSpec(
            "card_new_device_30d",
            "int64",
            "card",
            "1 if the card has not used this device in the last 30 days, 0 if it has; "
            f"{unknown} (state from before devices were kept)",
        ),
        FeatureSpec(
            "card_new_ip_30d",
            "int64",
            "card",
            "1 if the card has not used this IP network (IPv4 /24, IPv6 /64) in the last "
            f"30 days, 0 if it has; {unknown} (state from before IPs were kept)",
        ),
        FeatureSpec(
            "card_device_age_secs_30d",
            "float64",
            "card",
            "seconds since the card first used this device in the last 30 days (0.0 if "
            "new: a fraudster's burst reuses a device first seen minutes ago); -1 without "
            "one, or when some of the card's earlier devices are unknown",
        ),
        FeatureSpec(
            "card_distinct_devices_30d",
            "int64",
            "card",
            "distinct devices the card used in the last 30 days (-1 when some are unknown: "
            "state from before devices were kept)",
        ),
    ]
    specs += [
        FeatureSpec(
            "card_amount_ratio_30d",
            "float64",
            "card",
            "amount / the card's mean amount over 30 days (1.0 without history)",
        ),
        FeatureSpec(
            "card_amount_zscore_30d",
            "float64",
            "card",
            "(amount - 30-day mean) / 30-day std (0.0 with fewer than 2 transactions)",
        ),
        FeatureSpec(
            "card_amount_ratio_terminal_30d",
            "float64",
            "card",
            "amount / the card's mean amount at this terminal over 30 days "
            "(the ratio to its 30-day mean if the card has not used it)",
        ),
        FeatureSpec(
            "card_secs_since_prev",
            "float64",
            "card",
            "seconds since the card's previous transaction (-1 if none in 30 days)",
        ),
        FeatureSpec(
            "card_km_from_prev",
            "float64",
            "card",
            "km from the card's previous located transaction (-1 if unknown)",
        ),
        FeatureSpec(
            "card_speed_kmh_from_prev",
            "float64",
            "card",
            "implied travel speed from the previous located transaction, km/h (-1 if unknown)",
        ),
        FeatureSpec("txn_local_hour", "int64", "card", "hour of day at the terminal (solar time)"),
        FeatureSpec("txn_is_night", "int64", "card", "1 between 00:00 and 06:00 local time"),
        FeatureSpec("txn_is_weekend", "int64", "card", "1 on Saturday or Sunday, local time"),
        FeatureSpec("txn_amount", "float64", "card", "the transaction amount"),
    ]
    return tuple(specs)


def _terminal_specs() -> tuple[FeatureSpec, ...]:
    specs: list[FeatureSpec] = []
    for days in TERMINAL_DAY_WINDOWS:
        span = "the previous UTC day" if days == 1 else f"the previous {days} UTC days"
        specs += [
            FeatureSpec(
                f"term_tx_count_{days}d", "int64", "terminal", f"terminal transactions in {span}"
            ),
            FeatureSpec(
                f"term_fraud_count_{days}d",
                "int64",
                "terminal",
                f"terminal transactions in {span} known as fraud by scoring time",
            ),
            FeatureSpec(
                f"term_fraud_rate_{days}d",
                "float64",
                "terminal",
                f"known fraud / transactions at the terminal in {span}",
            ),
        ]
    for days in MATURED_WINDOWS:
        span = (
            f"the {days} UTC days that end the matured-label delay (a setting, "
            f"{DEFAULT_MATURED_DELAY_DAYS} days by default) before today"
        )
        specs += [
            FeatureSpec(
                f"term_matured_tx_count_{days}d",
                "int64",
                "terminal",
                f"terminal transactions in {span}",
            ),
            FeatureSpec(
                f"term_matured_fraud_count_{days}d",
                "int64",
                "terminal",
                f"terminal transactions in {span} known as fraud by scoring time",
            ),
            FeatureSpec(
                f"term_matured_fraud_rate_{days}d",
                "float64",
                "terminal",
                f"known fraud / transactions at the terminal in {span}",
            ),
        ]
    span = f"the previous {TERMINAL_AMOUNT_DAYS} UTC days"
    specs += [
        FeatureSpec(
            f"term_amount_mean_{TERMINAL_AMOUNT_DAYS}d",
            "float64",
            "terminal",
            f"mean amount at the terminal in {span} (0.0 without transactions)",
        ),
        FeatureSpec(
            f"term_amount_ratio_{TERMINAL_AMOUNT_DAYS}d",
            "float64",
            "terminal",
            f"amount / the terminal's mean amount in {span} (the amount itself without "
            "transactions: an unknown shop never makes an amount look usual)",
        ),
    ]
    return tuple(specs)


CARD_FEATURES: tuple[FeatureSpec, ...] = _card_specs()
TERMINAL_FEATURES: tuple[FeatureSpec, ...] = _terminal_specs()
ALL_FEATURES: tuple[FeatureSpec, ...] = CARD_FEATURES + TERMINAL_FEATURES
FEATURE_NAMES: tuple[str, ...] = tuple(spec.name for spec in ALL_FEATURES)
