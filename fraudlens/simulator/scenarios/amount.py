"""Amount outliers where everything else looks like the card holder."""

from __future__ import annotations

import numpy as np

from fraudlens.simulator import world
from fraudlens.simulator._util import HOUR_US, draw_sizes, position_in_segment
from fraudlens.simulator.events import Events, present_entry
from fraudlens.simulator.population import FAVOURITES, ONLINE_FAVOURITES
from fraudlens.simulator.scenarios._base import Context


def high_amount(ctx: Context, rng: np.random.Generator) -> Events:
    """One or two payments of 10-30 times the card's usual amount.

    They happen at the customer's regular terminals or web shops, with the
    customer's own device and IP online: only the amount gives them away.
    """
    pop = ctx.population
    cust, term = pop.customers, pop.terminals
    sizes = draw_sizes(rng, ctx.budget, lambda r, k: 1 + (r.random(k) < 0.3), exact=True)
    n = sizes.size
    card = ctx.random_cards(rng, n)
    customer = ctx.customer_of(card)

    ep = np.repeat(np.arange(n), sizes)
    c = customer[ep]
    rows = ep.size
    present = cust.favourites[c, rng.integers(0, FAVOURITES, size=rows)]
    web = cust.online_favourites[c, rng.integers(0, ONLINE_FAVOURITES, size=rows)]
    terminal = np.where(rng.random(rows) < cust.online_share[c], web, present)
    kind = term.kind[terminal]
    eur = np.exp(cust.amount_mu[c]) * term.amount_factor[terminal] * rng.uniform(10.0, 30.0, rows)
    eur = np.minimum(eur, 50_000.0)

    offset = np.where(position_in_segment(sizes) == 0, 0, rng.integers(HOUR_US, 6 * HOUR_US, rows))
    time_us = ctx.episode_starts(rng, n, 6 * HOUR_US)[ep] + offset
    online = np.flatnonzero(kind == world.ONLINE)
    device = np.full(rows, None, dtype=object)
    ip = np.full(rows, None, dtype=object)
    device[online] = cust.devices[c[online], 0]
    ip[online] = cust.ips[c[online], 0]
    return ctx.finish(
        time_us=time_us,
        card=card[ep],
        terminal=terminal,
        entry=present_entry(rng, eur, kind),
        eur=eur,
        device=device,
        ip=ip,
    )
