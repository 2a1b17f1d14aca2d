"""Saved-card abuse: an opt-in scenario for concept-drift stories.

Not enabled by default (see ``config.DRIFT_SCENARIOS``), so existing runs are
unchanged. It looks ordinary on every single feature the default scenarios
teach a model to fear: the shop, merchant and country are the victim's own,
amounts are close to the victim's usual ones, 3-D Secure mostly passes (the
card is saved in the shop account), and purchases happen in the daytime.
What gives it away is the rhythm: several purchases at the same shop in a few
hours, so the card's daily count and the time since its previous payment
move away from what customers do.
"""

from __future__ import annotations

import numpy as np

from fraudlens.simulator._util import (
    HOUR_US,
    MINUTE_US,
    draw_sizes,
    local_amount,
    position_in_segment,
    segmented_cumsum,
)
from fraudlens.simulator.events import ECOM_3DS, ECOM_NO_3DS, Events
from fraudlens.simulator.population import ONLINE_FAVOURITES
from fraudlens.simulator.scenarios._base import Context, fraud_devices, fraud_ips

FIRST_HOUR, LAST_HOUR = 9, 17  # episodes start in working hours (UTC)


def saved_card_abuse(ctx: Context, rng: np.random.Generator) -> Events:
    """A hijacked shop account re-uses the saved card at the victim's favourite web shop.

    3-8 purchases, 20-90 minutes apart, starting between 09:00 and 17:00, each
    0.7-1.6 times the victim's usual amount, 85% with 3-D Secure passed.
    """
    pop = ctx.population
    term = pop.terminals
    sizes = draw_sizes(rng, ctx.budget, lambda r, k: r.integers(4, 11, k), exact=False)
    n = sizes.size
    card = ctx.random_cards(rng, n)
    customer = ctx.customer_of(card)
    shop = pop.customers.online_favourites[customer, rng.integers(0, ONLINE_FAVOURITES, n)]

    ep = np.repeat(np.arange(n), sizes)
    pos = position_in_segment(sizes)
    gaps = rng.uniform(10 * MINUTE_US, 40 * MINUTE_US, ep.size)
    gaps[pos == 0] = 0.0
    day_start = ctx.episode_starts(rng, n, 0)
    day_start -= day_start % (24 * HOUR_US)
    hour = rng.integers(FIRST_HOUR, LAST_HOUR, n) * HOUR_US + rng.integers(0, HOUR_US, n)
    time_us = (day_start + hour)[ep] + segmented_cumsum(gaps, sizes).astype(np.int64)

    terminal = shop[ep]
    usual = np.exp(pop.customers.amount_mu[customer][ep])
    eur = usual * rng.uniform(0.7, 1.6, ep.size)
    entry = np.where(rng.random(ep.size) < 0.85, ECOM_3DS, ECOM_NO_3DS)
    return ctx.finish(
        time_us=time_us,
        card=card[ep],
        terminal=terminal,
        entry=entry,
        amount=local_amount(eur, term.per_eur[terminal], np.zeros(ep.size, dtype=bool)),
        device=fraud_devices(rng, n)[ep],
        ip=fraud_ips(rng, n)[ep],
    )
