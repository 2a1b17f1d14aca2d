"""Legitimate card activity, drawn for all customers and days at once.

Per customer and day the count is Poisson(rate x weekday factor); the hour
follows a daily rhythm. A transaction is e-commerce with the customer's online
share (at a favourite or, sometimes, another web shop, from one of the
customer's own devices and IPs), otherwise card-present at one of the
customer's regular terminals near home (or, 5% of the time, at any terminal).
"""

from __future__ import annotations

import numpy as np

from fraudlens.simulator import world
from fraudlens.simulator._util import (
    DAY_US,
    HOUR_US,
    FloatArray,
    IntArray,
    epoch_us,
    local_amount,
    pick,
)
from fraudlens.simulator.config import SimulatorConfig
from fraudlens.simulator.events import LEGIT, Events, present_entry
from fraudlens.simulator.population import FAVOURITES, ONLINE_FAVOURITES, Population

ELSEWHERE = 0.05  # card-present rows at a random terminal (errands, trips)
ONLINE_ELSEWHERE = 0.25  # e-commerce rows at a web shop outside the favourites
SECOND_CARD = 0.25  # share of rows on a secondary card, for customers with several
_FAVOURITE_P = 1.0 / np.arange(1, FAVOURITES + 1)
_ONLINE_FAVOURITE_P = 1.0 / np.arange(1, ONLINE_FAVOURITES + 1)


def generate_legit(
    population: Population, config: SimulatorConfig, rng: np.random.Generator
) -> Events:
    """Draw every legitimate transaction of the run."""
    cust, term = population.customers, population.terminals
    days = config.days
    weekday = (config.start_date.weekday() + np.arange(days)) % 7
    lam = cust.rate[:, None] * world.WEEKDAY_FACTOR[weekday][None, :]
    cell = np.repeat(np.arange(lam.size, dtype=np.int64), rng.poisson(lam).ravel())
    c, day = cell // days, cell % days
    n = cell.size
    hour = rng.choice(24, size=n, p=world.HOUR_P)
    time_us = epoch_us(config.start_date) + day * DAY_US + hour * HOUR_US
    time_us += rng.integers(0, HOUR_US, size=n)

    count = cust.card_count[c]
    other = 1 + (rng.random(n) * (count - 1)).astype(np.int64)
    card = cust.card_start[c] + np.where((rng.random(n) < SECOND_CARD) & (count > 1), other, 0)

    terminal = _terminals(population, c, rng)
    kind = term.kind[terminal]
    eur = usual_amount_eur(population, c, terminal, rng)
    amount = local_amount(eur, term.per_eur[terminal], kind == world.ATM)

    online = np.flatnonzero(kind == world.ONLINE)
    device = np.full(n, None, dtype=object)
    ip = np.full(n, None, dtype=object)
    device[online] = cust.devices[c[online], (rng.random(online.size) < 0.2).astype(np.int64)]
    ip[online] = cust.ips[c[online], (rng.random(online.size) < 0.15).astype(np.int64)]
    return Events(
        time_us=time_us,
        card=card,
        terminal=terminal,
        amount=amount,
        entry=present_entry(rng, eur, kind),
        device=device,
        ip=ip,
        scenario=np.full(n, LEGIT, dtype=np.int64),
    )


def usual_amount_eur(
    population: Population, customer: IntArray, terminal: IntArray, rng: np.random.Generator
) -> FloatArray:
    """Amounts in EUR drawn from each customer's spending profile at these terminals.

    ATM rows get a typical withdrawal amount instead.
    """
    cust, term = population.customers, population.terminals
    z = rng.standard_normal(customer.size)
    eur = np.exp(cust.amount_mu[customer] + cust.amount_sigma[customer] * z)
    eur = np.clip(eur * term.amount_factor[terminal], 1.0, 15_000.0)
    cash = term.kind[terminal] == world.ATM
    eur[cash] = rng.choice(world.ATM_AMOUNTS, size=int(cash.sum()), p=world.ATM_AMOUNT_P)
    return eur


def _terminals(population: Population, c: IntArray, rng: np.random.Generator) -> IntArray:
    cust, term = population.customers, population.terminals
    n = c.size
    slot = rng.choice(FAVOURITES, size=n, p=_FAVOURITE_P / _FAVOURITE_P.sum())
    present = cust.favourites[c, slot]
    anywhere = np.flatnonzero(term.kind != world.ONLINE)
    present = np.where(rng.random(n) < ELSEWHERE, pick(rng, anywhere, n), present)

    slot = rng.choice(ONLINE_FAVOURITES, size=n, p=_ONLINE_FAVOURITE_P / _ONLINE_FAVOURITE_P.sum())
    web = cust.online_favourites[c, slot]
    shops = np.flatnonzero(term.kind == world.ONLINE)
    web = np.where(rng.random(n) < ONLINE_ELSEWHERE, pick(rng, shops, n), web)
    return np.where(rng.random(n) < cust.online_share[c], web, present)
