"""Card-not-present fraud: card testing and account takeover."""

from __future__ import annotations

import numpy as np

from fraudlens.simulator import world
from fraudlens.simulator._util import (
    DAY_US,
    HOUR_US,
    MINUTE_US,
    SECOND_US,
    draw_sizes,
    local_amount,
    position_in_segment,
    segmented_cumsum,
)
from fraudlens.simulator.events import ECOM_3DS, ECOM_NO_3DS, Events
from fraudlens.simulator.scenarios._base import Context, fraud_devices, fraud_ips, redraw_while

TINY_MIN, TINY_MAX = 0.5, 2.0  # card-testing probe amounts, in the shop's currency


def card_testing(ctx: Context, rng: np.random.Generator) -> Events:
    """Bursts of tiny probes at one web shop within minutes, then a large purchase.

    A fraudster checks that a card number works with 3-15 payments of 0.50-2.00
    a few seconds apart (from one device and a foreign IP, mostly without
    3-D Secure), then spends a large amount at another shop 10 minutes to 3
    hours later.
    """
    term = ctx.population.terminals
    sizes = draw_sizes(
        rng, ctx.budget, lambda r, k: np.minimum(4 + r.poisson(4, k), 16), exact=False
    )
    n = sizes.size
    shops = np.flatnonzero(term.kind == world.ONLINE)
    card = ctx.random_cards(rng, n)
    probe_shop = shops[rng.integers(0, shops.size, size=n)]
    big_shop = shops[rng.integers(0, shops.size, size=n)]

    ep = np.repeat(np.arange(n), sizes)
    pos = position_in_segment(sizes)
    last = pos == sizes[ep] - 1
    gaps = np.where(
        last,
        rng.uniform(10 * MINUTE_US, 3 * HOUR_US, ep.size),
        rng.uniform(5 * SECOND_US, 90 * SECOND_US, ep.size),
    )
    gaps[pos == 0] = 0.0
    time_us = ctx.episode_starts(rng, n, 4 * HOUR_US)[ep]
    time_us += segmented_cumsum(gaps, sizes).astype(np.int64)

    terminal = np.where(last, big_shop[ep], probe_shop[ep])
    big = local_amount(
        rng.lognormal(np.log(700.0), 0.5, ep.size), term.per_eur[terminal], np.zeros(ep.size, bool)
    )
    amount = np.where(last, big, np.round(rng.uniform(TINY_MIN, TINY_MAX, ep.size), 2))
    entry = np.where(rng.random(ep.size) < np.where(last, 0.7, 0.9), ECOM_NO_3DS, ECOM_3DS)
    return ctx.finish(
        time_us=time_us,
        card=card[ep],
        terminal=terminal,
        entry=entry,
        amount=amount,
        device=fraud_devices(rng, n)[ep],
        ip=fraud_ips(rng, n)[ep],
    )


def account_takeover(ctx: Context, rng: np.random.Generator) -> Events:
    """A taken-over account buys online from a new device, a foreign IP and country.

    1-8 purchases over a day or two, at web shops registered outside the
    victim's home country, for 4-12 times the victim's usual amount, mostly
    without 3-D Secure.
    """
    pop = ctx.population
    term = pop.terminals
    sizes = draw_sizes(rng, ctx.budget, lambda r, k: np.minimum(1 + r.poisson(2, k), 8), exact=True)
    n = sizes.size
    card = ctx.random_cards(rng, n)
    customer = ctx.customer_of(card)

    ep = np.repeat(np.arange(n), sizes)
    pos = position_in_segment(sizes)
    gaps = rng.exponential(6 * HOUR_US, ep.size)
    gaps[pos == 0] = 0.0
    time_us = ctx.episode_starts(rng, n, 2 * DAY_US)[ep]
    time_us += segmented_cumsum(gaps, sizes).astype(np.int64)

    shops = np.flatnonzero(term.kind == world.ONLINE)
    terminal = redraw_while(rng, shops, pop.customers.country[customer][ep], term.country)
    usual = np.exp(pop.customers.amount_mu[customer][ep])
    eur = np.minimum(usual * rng.uniform(4.0, 12.0, ep.size), 15_000.0)
    entry = np.where(rng.random(ep.size) < 0.7, ECOM_NO_3DS, ECOM_3DS)
    return ctx.finish(
        time_us=time_us,
        card=card[ep],
        terminal=terminal,
        entry=entry,
        eur=eur,
        device=fraud_devices(rng, n)[ep],
        ip=fraud_ips(rng, n)[ep],
    )
