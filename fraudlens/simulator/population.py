"""Customers, cards, merchants and terminals of a simulated portfolio.

Card numbers exist only inside ``_cards``: synthetic Luhn-valid PANs are
tokenized once per card and dropped, keeping only their last four digits (the
truncation PCI DSS lets analysts see); nothing else ever sees them.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.spatial import cKDTree

from fraudlens.security.tokenize import Tokenizer
from fraudlens.simulator import world
from fraudlens.simulator._util import (
    FloatArray,
    IntArray,
    ObjArray,
    draw_sizes,
    format_ids,
    id_width,
    ipv4,
    random_hex_ids,
)
from fraudlens.simulator.config import SimulatorConfig

NEAR_TERMINALS = 24  # candidates around home from which favourites are drawn
FAVOURITES = 8  # physical terminals a customer uses regularly
ONLINE_FAVOURITES = 4  # e-commerce merchants a customer uses regularly
_SYNTHETIC_IINS = np.array([453201, 471612, 492181, 455673, 476173], dtype=np.int64)


@dataclass(frozen=True)
class Terminals:
    """Terminals (and their merchants); merchant ``m`` owns a contiguous range."""

    ids: ObjArray
    merchant: IntArray
    merchant_ids: ObjArray
    merchant_start: IntArray
    merchant_size: IntArray
    merchant_kind: IntArray
    kind: IntArray  # world.PHYSICAL / ATM / ONLINE
    mcc: ObjArray
    amount_factor: FloatArray
    city: IntArray  # index in world.CITIES, -1 for e-commerce
    country: ObjArray
    currency: ObjArray
    per_eur: FloatArray
    lat: FloatArray  # NaN for e-commerce
    lon: FloatArray
    retail_by_city: IntArray  # physical non-ATM terminals grouped by city, shuffled within
    city_start: IntArray  # where each city's run starts in retail_by_city
    city_count: IntArray


@dataclass(frozen=True)
class Customers:
    """Customers with their home, habits, devices and cards."""

    ids: ObjArray
    city: IntArray
    country: ObjArray
    lat: FloatArray
    lon: FloatArray
    rate: FloatArray  # legitimate transactions per day
    amount_mu: FloatArray  # log of the usual amount in EUR
    amount_sigma: FloatArray
    online_share: FloatArray
    devices: ObjArray  # (n, 2)
    ips: ObjArray  # (n, 2)
    favourites: IntArray  # (n, FAVOURITES) terminal indices near home
    online_favourites: IntArray  # (n, ONLINE_FAVOURITES)
    card_start: IntArray
    card_count: IntArray


@dataclass(frozen=True)
class Population:
    """Everything transactions are drawn from."""

    customers: Customers
    card_tokens: ObjArray
    card_last4: ObjArray
    card_customer: IntArray
    terminals: Terminals


def build_population(
    config: SimulatorConfig, tokenizer: Tokenizer, rng: np.random.Generator
) -> Population:
    """Draw customers, cards, merchants and terminals for ``config``."""
    terminals = _terminals(config.terminals, rng)
    customers = _customers(config, terminals, rng)
    n_cards = int(customers.card_count.sum())
    card_customer = np.repeat(np.arange(config.customers, dtype=np.int64), customers.card_count)
    tokens, last4 = _cards(n_cards, tokenizer, rng)
    return Population(customers, tokens, last4, card_customer, terminals)


def _cards(n: int, tokenizer: Tokenizer, rng: np.random.Generator) -> tuple[ObjArray, ObjArray]:
    """Tokens and last four digits of ``n`` distinct synthetic 16-digit Luhn-valid PANs."""
    accounts = rng.choice(10**9, size=n, replace=False).astype(np.int64)
    payload = rng.choice(_SYNTHETIC_IINS, size=n) * 10**9 + accounts  # 15 digits
    digits = (payload[:, None] // 10 ** np.arange(14, -1, -1, dtype=np.int64)) % 10
    doubled = digits[:, ::-2] * 2  # every other digit from the right, starting at the last
    total = (doubled - 9 * (doubled > 9)).sum(axis=1) + digits[:, -2::-2].sum(axis=1)
    check = (10 - total % 10) % 10
    pans = format_ids("", payload * 10 + check, 16)
    tokens = np.array([tokenizer.tokenize(pan) for pan in pans], dtype=object)
    return tokens, np.array([pan[-4:] for pan in pans], dtype=object)


def _terminals(total: int, rng: np.random.Generator) -> Terminals:
    per_kind = [round(total * share) for share in world.KIND_SHARE[1:]]
    counts = [total - sum(per_kind), *per_kind]
    drawers = (
        lambda r, k: np.where(r.random(k) < 0.7, 1, np.minimum(1 + r.geometric(0.3, k), 25)),
        lambda r, k: np.minimum(1 + r.geometric(0.15, k), 40),
        lambda r, k: np.where(r.random(k) < 0.8, 1, 1 + r.geometric(0.5, k)),
    )
    sizes_by_kind = [
        draw_sizes(rng, n, d, exact=True) for n, d in zip(counts, drawers, strict=True)
    ]
    kinds = np.concatenate([np.full(s.size, k) for k, s in enumerate(sizes_by_kind)])
    sizes = np.concatenate(sizes_by_kind)
    order = rng.permutation(sizes.size)  # ids should not reveal the kind
    kinds, sizes = kinds[order], sizes[order]
    n_merchants = sizes.size

    mcc = np.empty(n_merchants, dtype=object)
    factor = np.ones(n_merchants)
    for kind, table in (
        (world.PHYSICAL, world.PHYSICAL_MCCS),
        (world.ATM, (world.ATM_MCC,)),
        (world.ONLINE, world.ONLINE_MCCS),
    ):
        idx = np.flatnonzero(kinds == kind)
        shares = np.array([m.share for m in table])
        pick = rng.choice(len(table), size=idx.size, p=shares / shares.sum())
        mcc[idx] = np.array([m.code for m in table], dtype=object)[pick]
        factor[idx] = np.array([m.amount_factor for m in table])[pick]

    # Physical merchants sit in a city (chains keep all their shops there).
    residents = np.array([c.residents for c in world.CITIES])
    travel = residents == 0
    city_w = residents / residents.sum() * (1 - world.TRAVEL_TERMINAL_SHARE)
    city_w[travel] = world.TRAVEL_TERMINAL_SHARE / travel.sum()
    city = rng.choice(len(world.CITIES), size=n_merchants, p=city_w)
    city_country = np.array([c.country for c in world.CITIES], dtype=object)
    online_codes = np.array(list(world.ONLINE_COUNTRIES), dtype=object)
    online_p = np.array(list(world.ONLINE_COUNTRIES.values()))
    country = city_country[city]
    online = kinds == world.ONLINE
    country[online] = rng.choice(online_codes, size=int(online.sum()), p=online_p / online_p.sum())
    city[online] = -1

    merchant = np.repeat(np.arange(n_merchants, dtype=np.int64), sizes)
    t_city = city[merchant]
    lat0 = np.array([c.lat for c in world.CITIES])[t_city]
    lon0 = np.array([c.lon for c in world.CITIES])[t_city]
    jitter = rng.normal(0.0, world.CITY_RADIUS_DEG, size=(merchant.size, 2))
    lat = np.where(t_city >= 0, lat0 + jitter[:, 0], np.nan)
    lon = np.where(t_city >= 0, lon0 + jitter[:, 1] / np.cos(np.radians(lat0)), np.nan)
    t_country = country[merchant]
    info = [world.COUNTRIES[code] for code in world.COUNTRY_CODES]
    code_idx = {code: i for i, code in enumerate(world.COUNTRY_CODES)}
    c_idx = np.array([code_idx[code] for code in country], dtype=np.int64)[merchant]
    t_kind = kinds[merchant]

    retail = np.flatnonzero(t_kind == world.PHYSICAL)
    retail = retail[rng.permutation(retail.size)]
    retail = retail[np.argsort(t_city[retail], kind="stable")]
    bounds = np.searchsorted(t_city[retail], np.arange(len(world.CITIES) + 1))
    return Terminals(
        ids=format_ids("T", np.arange(merchant.size), id_width(merchant.size)),
        merchant=merchant,
        merchant_ids=format_ids("M", np.arange(n_merchants), id_width(n_merchants)),
        merchant_start=np.cumsum(sizes) - sizes,
        merchant_size=sizes,
        merchant_kind=kinds,
        kind=t_kind,
        mcc=mcc[merchant],
        amount_factor=factor[merchant],
        city=t_city,
        country=t_country,
        currency=np.array([c.currency for c in info], dtype=object)[c_idx],
        per_eur=np.array([c.per_eur for c in info])[c_idx],
        lat=lat,
        lon=lon,
        retail_by_city=retail,
        city_start=bounds[:-1],
        city_count=np.diff(bounds),
    )


def _customers(
    config: SimulatorConfig, terminals: Terminals, rng: np.random.Generator
) -> Customers:
    n = config.customers
    residents = np.array([c.residents for c in world.CITIES])
    city = rng.choice(len(world.CITIES), size=n, p=residents / residents.sum())
    lat0 = np.array([c.lat for c in world.CITIES])[city]
    lon0 = np.array([c.lon for c in world.CITIES])[city]
    lat = lat0 + rng.normal(0.0, world.CITY_RADIUS_DEG, n)
    lon = lon0 + rng.normal(0.0, world.CITY_RADIUS_DEG, n) / np.cos(np.radians(lat0))
    country = np.array([c.country for c in world.CITIES], dtype=object)[city]

    rate = rng.lognormal(0.0, 0.6, n)
    rate *= config.mean_tx_per_day / rate.mean()  # keeps the volume formula exact
    card_count = rng.choice(np.array([1, 2, 3]), size=n, p=[0.80, 0.17, 0.03])

    # Home IPs: first octet from the home country's (synthetic) ranges.
    octets = [world.COUNTRIES[c.country].ip_octets for c in world.CITIES]
    table = np.array([list(o) + [o[0]] * (5 - len(o)) for o in octets], dtype=np.int64)
    lengths = np.array([len(o) for o in octets])
    home = np.repeat(city, 2)
    first = table[home, (rng.random(home.size) * lengths[home]).astype(np.int64)]

    return Customers(
        ids=format_ids("C", np.arange(n), id_width(n)),
        city=city,
        country=country,
        lat=lat,
        lon=lon,
        rate=rate,
        amount_mu=np.log(28.0) + rng.normal(0.0, 0.45, n),
        amount_sigma=rng.uniform(0.45, 0.85, n),
        online_share=rng.beta(2.0, 9.0, n),
        devices=random_hex_ids(rng, 2 * n, "dev_").reshape(n, 2),
        ips=ipv4(rng, first).reshape(n, 2),
        favourites=_favourites(lat, lon, terminals, rng),
        online_favourites=_online_favourites(n, terminals, rng),
        card_start=np.cumsum(card_count) - card_count,
        card_count=card_count,
    )


def _unit_vectors(lat: FloatArray, lon: FloatArray) -> FloatArray:
    phi, lam = np.radians(lat), np.radians(lon)
    return np.column_stack([np.cos(phi) * np.cos(lam), np.cos(phi) * np.sin(lam), np.sin(phi)])


def _favourites(
    lat: FloatArray, lon: FloatArray, terminals: Terminals, rng: np.random.Generator
) -> IntArray:
    """Pick each customer's regular terminals among those nearest home."""
    present = np.flatnonzero(terminals.kind != world.ONLINE)
    tree = cKDTree(_unit_vectors(terminals.lat[present], terminals.lon[present]))
    k = min(NEAR_TERMINALS, present.size)
    _, near = tree.query(_unit_vectors(lat, lon), k=k)
    near = np.asarray(near, dtype=np.int64).reshape(lat.size, k)
    # Gumbel top-k: a random subset that favours the closest terminals.
    keys = -np.arange(k) / 6.0 + rng.gumbel(size=near.shape)
    chosen = np.argsort(-keys, axis=1)[:, : min(FAVOURITES, k)]
    return present[np.take_along_axis(near, chosen, axis=1)]


def _online_favourites(n: int, terminals: Terminals, rng: np.random.Generator) -> IntArray:
    """A few e-commerce merchants per customer; popularity follows a Zipf law."""
    online = np.flatnonzero(terminals.kind == world.ONLINE)
    popularity = 1.0 / (1.0 + rng.permutation(online.size))
    return rng.choice(online, size=(n, ONLINE_FAVOURITES), p=popularity / popularity.sum())
