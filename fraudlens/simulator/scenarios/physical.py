"""Card-present fraud: skimming, stolen cards, colluding merchants."""

from __future__ import annotations

import numpy as np

from fraudlens.simulator import world
from fraudlens.simulator._util import (
    DAY_US,
    HOUR_US,
    MINUTE_US,
    draw_sizes,
    epoch_us,
    position_in_segment,
    segmented_cumsum,
)
from fraudlens.simulator.events import CHIP, CONTACTLESS, KEYED, MAGSTRIPE, Events
from fraudlens.simulator.scenarios._base import Context, redraw_while

HITS_PER_SKIMMED_CARD = 2.5  # mean fraud rows per cloned card


def compromised_terminal(ctx: Context, rng: np.random.Generator) -> Events:
    """Skimming: cards read at a compromised terminal are cloned and cashed out later.

    A terminal (ATMs and fuel pumps first) carries a skimmer for 3-10 days.
    Its own transactions stay genuine: the customers really were there. Every
    card used there in the window is cloned; days later (lognormal, median 4
    days) the clone is used 1-6 times, hours apart, at ATMs and high-ticket
    shops away from the victim's city, read by magnetic stripe. So the terminal is the common
    point of the victims' histories, which is what delayed-label terminal risk
    features detect.
    """
    pop, cfg, legit = ctx.population, ctx.config, ctx.legit
    term = pop.terminals
    candidates = np.flatnonzero(term.kind != world.ONLINE)
    preferred = (term.kind[candidates] == world.ATM) | (term.mcc[candidates] == "5541")
    keys = np.log(np.where(preferred, 3.0, 1.0)) + rng.gumbel(size=candidates.size)
    order = candidates[np.argsort(-keys)]  # weighted order without replacement

    start = rng.integers(ctx.start_day, max(ctx.start_day + 1, cfg.days - 10), size=order.size)
    end = np.minimum(start + rng.integers(3, 11, size=order.size), cfg.days)
    traffic = np.bincount(legit.terminal, minlength=term.ids.size) / cfg.days
    expected = np.cumsum(traffic[order] * (end - start) * HITS_PER_SKIMMED_CARD)
    keep = int(np.searchsorted(expected, 1.3 * ctx.budget)) + 1

    base = epoch_us(cfg.start_date)
    win_start = np.full(term.ids.size, np.iinfo(np.int64).max)
    win_end = np.full(term.ids.size, np.iinfo(np.int64).min)
    win_start[order[:keep]] = base + start[:keep] * DAY_US
    win_end[order[:keep]] = base + end[:keep] * DAY_US
    skimmed = np.flatnonzero(
        (legit.time_us >= win_start[legit.terminal]) & (legit.time_us < win_end[legit.terminal])
    )
    if skimmed.size == 0:
        return Events.empty()
    # Each card's first visit to a compromised terminal, victims in random order.
    by_card = skimmed[np.lexsort((legit.time_us[skimmed], legit.card[skimmed]))]
    cards, first = np.unique(legit.card[by_card], return_index=True)
    skim_time = legit.time_us[by_card[first]]
    shuffle = rng.permutation(cards.size)
    cards, skim_time = cards[shuffle], skim_time[shuffle]
    hits = np.minimum(1 + rng.poisson(HITS_PER_SKIMMED_CARD - 1, cards.size), 6)
    n_victims = int(np.searchsorted(np.cumsum(hits), ctx.budget)) + 1
    cards, skim_time, hits = cards[:n_victims], skim_time[:n_victims], hits[:n_victims]

    victim = np.repeat(np.arange(cards.size), hits)
    delay = np.clip(rng.lognormal(np.log(4.0), 0.6, cards.size), 0.5, 30.0) * DAY_US
    gaps = rng.exponential(3 * HOUR_US, victim.size)
    gaps[position_in_segment(hits) == 0] = 0.0
    time_us = skim_time[victim] + delay[victim].astype(np.int64)
    time_us += segmented_cumsum(gaps, hits).astype(np.int64)

    cashout = np.flatnonzero(
        (term.kind == world.ATM)
        | ((term.kind == world.PHYSICAL) & np.isin(term.mcc, list(world.HIGH_TICKET_MCCS)))
    )
    home = pop.customers.city[ctx.customer_of(cards)][victim]
    terminal = redraw_while(rng, cashout, home, term.city)
    atm = term.kind[terminal] == world.ATM
    eur = np.where(
        atm,
        rng.choice(np.arange(100.0, 520.0, 20.0), size=victim.size),
        rng.lognormal(np.log(300.0), 0.5, victim.size),
    )
    entry = np.where(atm | (rng.random(victim.size) < 0.85), MAGSTRIPE, CHIP)
    return ctx.finish(time_us=time_us, card=cards[victim], terminal=terminal, entry=entry, eur=eur)


def stolen_card(ctx: Context, rng: np.random.Generator) -> Events:
    """A stolen card run through many new terminals within hours.

    60% of the sprees happen in another city (often another country), the
    rest around the victim's home; each row is at a different shop, about 40
    minutes apart, mixing contactless-sized tickets and large purchases.
    """
    pop = ctx.population
    term = pop.terminals
    sizes = draw_sizes(
        rng, ctx.budget, lambda r, k: np.minimum(3 + r.poisson(4, k), 15), exact=True
    )
    n = sizes.size
    card = ctx.random_cards(rng, n)
    home = pop.customers.city[ctx.customer_of(card)]
    away = term.city[redraw_while(rng, term.retail_by_city, home, term.city)]
    city = np.where((rng.random(n) < 0.6) | (term.city_count[home] == 0), away, home)
    count = term.city_count[city]
    sizes = np.minimum(sizes, count)  # one row per distinct terminal

    ep = np.repeat(np.arange(n), sizes)
    pos = position_in_segment(sizes)
    # retail_by_city is shuffled within a city: consecutive slots are distinct shops.
    slot = (rng.integers(0, count)[ep] + pos) % count[ep]
    terminal = term.retail_by_city[term.city_start[city[ep]] + slot]
    gaps = rng.exponential(40 * MINUTE_US, ep.size)
    gaps[pos == 0] = 0.0
    time_us = ctx.episode_starts(rng, n, 12 * HOUR_US)[ep]
    time_us += segmented_cumsum(gaps, sizes).astype(np.int64)

    small = rng.random(ep.size) < 0.5
    eur = np.where(
        small, rng.uniform(15.0, 50.0, ep.size), rng.lognormal(np.log(250.0), 0.6, ep.size)
    )
    entry = np.where(eur <= 50.0, CONTACTLESS, np.where(rng.random(ep.size) < 0.8, CHIP, MAGSTRIPE))
    return ctx.finish(time_us=time_us, card=card[ep], terminal=terminal, entry=entry, eur=eur)


def merchant_collusion(ctx: Context, rng: np.random.Generator) -> Events:
    """A colluding merchant pushes inflated, mostly keyed-in payments from many cards.

    For 5-15 days its terminals process 10-50 fraudulent payments of 4-12 times
    the usual ticket for its MCC, each from a different (compromised) card,
    during business hours; many amounts are round.
    """
    cfg, term = ctx.config, ctx.population.terminals
    sizes = draw_sizes(rng, ctx.budget, lambda r, k: 10 + r.poisson(20, k), exact=True)
    n = sizes.size
    shops = np.flatnonzero(term.merchant_kind == world.PHYSICAL)
    merchant = rng.choice(shops, size=n, replace=n > shops.size)
    start = rng.integers(ctx.start_day, max(ctx.start_day + 1, cfg.days - 5), size=n)
    length = rng.integers(5, 16, size=n)

    ep = np.repeat(np.arange(n), sizes)
    terminal = term.merchant_start[merchant][ep] + rng.integers(0, term.merchant_size[merchant][ep])
    day = np.minimum(start[ep] + rng.integers(0, length[ep]), cfg.days - 1)
    hour = rng.choice(24, size=ep.size, p=world.HOUR_P)
    time_us = epoch_us(cfg.start_date) + day * DAY_US + hour * HOUR_US
    time_us += rng.integers(0, HOUR_US, size=ep.size)

    eur = 40.0 * term.amount_factor[terminal] * rng.uniform(4.0, 12.0, ep.size)
    eur = np.where(rng.random(ep.size) < 0.4, np.maximum(10.0, np.round(eur, -1)), eur)
    u = rng.random(ep.size)
    entry = np.where(u < 0.5, KEYED, np.where(u < 0.7, MAGSTRIPE, CHIP))
    card = ctx.random_cards(rng, ep.size)
    return ctx.finish(time_us=time_us, card=card, terminal=terminal, entry=entry, eur=eur)
