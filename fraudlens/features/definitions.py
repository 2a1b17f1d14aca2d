"""Every feature, defined once: state + request transaction -> values.

Point-in-time rule: a feature for a request at time t uses only state events
strictly before t (``ts < t``). The request's own transaction has time t, so
it never counts, whether or not the state already holds it; later events in
the state are ignored too. A window of length W covers ``t - W <= ts < t``.

Terminal windows are whole UTC days: "7 days" means the 7 UTC days before the
request's day (today is excluded, so the value is exact whatever the state has
seen today), and a fraud mark counts only if its label arrived before t.

Missing values use sentinels, never NaN (so stores and joins round-trip them):
-1.0 for "no earlier transaction" / "no location", -1 for "no device / IP" or
"the card's earlier devices / IPs are unknown".

Float arithmetic is spelled so that ``fraudlens.features.compute`` (the same
features for a whole batch with numpy) gives identical floats: sums run left
to right from 0.0 (``seq_sum``), squares are ``d * d``, and both call the one
scalar ``haversine_km``.
"""

from __future__ import annotations

import math
from bisect import bisect_left
from collections.abc import Iterable
from functools import reduce
from operator import add

from fraudlens.features.online_ids import NO_ID, UNKNOWN_ID
from fraudlens.features.registry import (
    MATURED_WINDOWS,
    TERMINAL_AMOUNT_DAYS,
    TERMINAL_DAY_WINDOWS,
    WINDOWS,
)
from fraudlens.features.state import (
    DEFAULT_MATURED_DELAY_DAYS,
    MISSING_COORD,
    US_PER_DAY,
    US_PER_SECOND,
    CardState,
    TerminalState,
    TxnEvent,
    coord,
    utc_day,
)

FeatureValues = dict[str, float | int]

EARTH_RADIUS_KM = 6371.0088
NIGHT_HOURS = (0, 6)  # local hours [0, 6) count as night
MIN_SPEED_HOURS = 1.0 / 60.0  # speeds use at least one minute between events
US_PER_HOUR = 3600 * US_PER_SECOND
# A standard deviation below this fraction of the mean is rounding noise (equal
# amounts that are inexact floats), not spread: the z-score is then 0.
STD_REL_EPSILON = 1e-9


def seq_sum(values: Iterable[float]) -> float:
    """Sum from 0.0, left to right (the order the batch runner reproduces exactly).

    Not ``sum``: from Python 3.12 it compensates rounding, which numpy does not.
    """
    return reduce(add, values, 0.0)


def haversine_km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle distance in kilometres.

    The batch runner calls this same function for each row that needs it:
    numpy's vectorized sin/cos/arcsin may differ from the C library by an ulp
    on some CPUs, and on one element they cost ~30x more than ``math``.
    """
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2.0 * EARTH_RADIUS_KM * math.asin(min(1.0, math.sqrt(a)))


def has_location(lat: float, lon: float) -> bool:
    """Whether a stored latitude/longitude pair is a known place."""
    return lat != MISSING_COORD and lon != MISSING_COORD and -90.0 <= lat <= 90.0


def local_time_us(request: TxnEvent) -> int:
    """Approximate local solar time: UTC shifted by longitude/15 hours.

    The schema has no time zone; the terminal's longitude is a stable proxy.
    Without a location, UTC is used.
    """
    lon = coord(request.longitude)
    if lon == MISSING_COORD:
        return request.time_us
    return request.time_us + round(lon / 15.0 * US_PER_HOUR)


def card_features(state: CardState | None, request: TxnEvent) -> FeatureValues:
    """Card behaviour features for ``request`` from the card's state.

    Args:
        state: the card's state (may already hold the request or later events);
            None for a card never seen.
        request: the transaction being scored.

    Returns:
        One value per card feature in ``registry.CARD_FEATURES``.
    """
    t = request.time_us
    ts = state.ts if state else []
    end = bisect_left(ts, t)  # events [0, end) are strictly before t
    amounts = state.amount[:end] if state else []
    out: FeatureValues = {}
    for name, width_us in WINDOWS:
        lo = bisect_left(ts, t - width_us, 0, end)
        window = amounts[lo:]
        n = len(window)
        total = seq_sum(window)
        out[f"card_tx_count_{name}"] = n
        out[f"card_amount_sum_{name}"] = total
        out[f"card_amount_mean_{name}"] = total / n if n else 0.0
        # + 0.0: a -0.0 amount and a 0.0 give one value, whichever comes first.
        out[f"card_amount_max_{name}"] = max(window) + 0.0 if n else 0.0

    lo_1d = bisect_left(ts, t - US_PER_DAY, 0, end)
    lo_30d = bisect_left(ts, t - 30 * US_PER_DAY, 0, end)
    terminals = state.terminal[lo_30d:end] if state else []
    merchants = state.merchant[lo_30d:end] if state else []
    countries = state.country[lo_30d:end] if state else []
    k = lo_1d - lo_30d  # offset of the 1-day window inside the 30-day slices
    out["card_distinct_terminals_1d"] = len(set(terminals[k:]))
    out["card_distinct_terminals_30d"] = len(set(terminals))
    out["card_distinct_merchants_1d"] = len(set(merchants[k:]))
    out["card_distinct_merchants_30d"] = len(set(merchants))
    out["card_distinct_countries_1d"] = len(set(countries[k:]))
    out["card_distinct_countries_30d"] = len(set(countries))
    out["card_new_terminal_30d"] = int(request.terminal_id not in terminals)
    out["card_new_merchant_30d"] = int(request.merchant_id not in merchants)
    out["card_new_country_30d"] = int(request.country not in countries)
    devices = state.device[lo_30d:end] if state else []
    out["card_new_device_30d"] = _novelty(request.device, devices)
    out["card_new_ip_30d"] = _novelty(request.ip, state.ip[lo_30d:end] if state else [])
    out["card_device_age_secs_30d"] = _device_age(
        request, devices, state.ts[lo_30d:end] if state else []
    )
    known = set(devices) - {NO_ID}
    out["card_distinct_devices_30d"] = -1 if UNKNOWN_ID in known else len(known)

    amount = float(request.amount)
    usual = amounts[lo_30d:]
    n30 = len(usual)
    mean = seq_sum(usual) / n30 if n30 else 0.0
    std = math.sqrt(seq_sum((a - mean) * (a - mean) for a in usual) / n30) if n30 else 0.0
    spread = n30 >= 2 and std > STD_REL_EPSILON * abs(mean)
    out["card_amount_ratio_30d"] = amount / mean if n30 and mean > 0 else 1.0
    out["card_amount_zscore_30d"] = (amount - mean) / std if spread else 0.0
    # The card's usual amount at this very terminal: the mean over all terminals
    # mixes shops of very different price levels and currencies (a 20x payment at
    # the usual grocer can sit below the card's 30-day mean, which holds rent or
    # travel abroad). At a terminal the card has not used, the card-wide ratio:
    # a new place is no reason to look less unusual.
    here = [a for a, term in zip(usual, terminals, strict=True) if term == request.terminal_id]
    here_mean = seq_sum(here) / len(here) if here else 0.0
    ratio_here = amount / here_mean if here_mean > 0 else out["card_amount_ratio_30d"]
    out["card_amount_ratio_terminal_30d"] = ratio_here

    out.update(_previous_features(state, request, lo_30d, end))
    local = local_time_us(request)
    hour = (local // US_PER_HOUR) % 24
    weekday = (local // US_PER_DAY + 3) % 7  # 1970-01-01 was a Thursday; Monday = 0
    out["txn_local_hour"] = int(hour)
    out["txn_is_night"] = int(NIGHT_HOURS[0] <= hour < NIGHT_HOURS[1])
    out["txn_is_weekend"] = int(weekday >= 5)
    out["txn_amount"] = amount
    return out


def _novelty(code: int, seen: list[int]) -> int:
    """1 if ``code`` is not among the card's ``seen`` codes, 0 if it is; -1 without a
    known code, or when it is not found but some seen codes are unknown (it may be one)."""
    if code in (NO_ID, UNKNOWN_ID):
        return -1
    if code in seen:
        return 0
    return -1 if UNKNOWN_ID in seen else 1


def _device_age(request: TxnEvent, devices: list[int], times: list[int]) -> float:
    """Seconds since the first of ``devices`` (at ``times``) that is the request's;
    0.0 if none is; -1.0 without a known device or with unknown earlier ones."""
    if request.device in (NO_ID, UNKNOWN_ID) or UNKNOWN_ID in devices:
        return -1.0
    if request.device not in devices:
        return 0.0
    return (request.time_us - times[devices.index(request.device)]) / US_PER_SECOND


def _previous_features(
    state: CardState | None, request: TxnEvent, lo: int, end: int
) -> FeatureValues:
    """Time, distance and speed from the previous transaction (within 30 days)."""
    out: FeatureValues = {
        "card_secs_since_prev": -1.0,
        "card_km_from_prev": -1.0,
        "card_speed_kmh_from_prev": -1.0,
    }
    if state is None or end <= lo:
        return out
    out["card_secs_since_prev"] = (request.time_us - state.ts[end - 1]) / US_PER_SECOND
    lat, lon = coord(request.latitude), coord(request.longitude)
    if not has_location(lat, lon):
        return out
    # The most recent earlier transaction that had a location.
    for j in range(end - 1, lo - 1, -1):
        if has_location(state.lat[j], state.lon[j]):
            km = haversine_km(state.lat[j], state.lon[j], lat, lon)
            hours = max((request.time_us - state.ts[j]) / US_PER_HOUR, MIN_SPEED_HOURS)
            out["card_km_from_prev"] = km
            out["card_speed_kmh_from_prev"] = km / hours
            break
    return out


def terminal_features(
    state: TerminalState | None,
    request: TxnEvent,
    *,
    matured_delay_days: int = DEFAULT_MATURED_DELAY_DAYS,
) -> FeatureValues:
    """Terminal risk features for ``request`` from the terminal's state.

    Counts cover whole UTC days before the request's day; a fraud mark counts
    only when its label arrived strictly before the request time. Matured
    windows are ``[today - delay - w, today - delay)``.

    Args:
        state: the terminal's state; None for a terminal never seen.
        request: the transaction being scored.
        matured_delay_days: the delay of the matured windows
            (``features.matured_delay_days``, passed by every runner).

    Returns:
        One value per terminal feature in ``registry.TERMINAL_FEATURES``.
    """
    today = utc_day(request.time_us)
    out: FeatureValues = {}
    windows = [("", today - days, today, days) for days in TERMINAL_DAY_WINDOWS]
    end = today - matured_delay_days
    windows += [("matured_", end - days, end, days) for days in MATURED_WINDOWS]
    for kind, first, stop, days in windows:
        tx = 0
        fraud = 0
        if state is not None:
            tx = sum(n for d, n in zip(state.day, state.tx, strict=True) if first <= d < stop)
            arrived = bisect_left(state.fraud_label_us, request.time_us)
            fraud = sum(1 for d in state.fraud_day[:arrived] if first <= d < stop)
        out[f"term_{kind}tx_count_{days}d"] = tx
        out[f"term_{kind}fraud_count_{days}d"] = fraud
        out[f"term_{kind}fraud_rate_{days}d"] = fraud / tx if tx else 0.0
    # The terminal's price level: a shop's usual ticket tells a 20x payment at a
    # grocer from an ordinary one at a travel agency, which the card's own
    # history (a few shops, a few weeks) cannot.
    first = today - TERMINAL_AMOUNT_DAYS
    tx = cents = 0
    if state is not None:
        for d, n, c in zip(state.day, state.tx, state.amount_cents, strict=True):
            if first <= d < today:
                tx += n
                cents += c
    mean = cents / (100 * tx) if tx else 0.0
    out[f"term_amount_mean_{TERMINAL_AMOUNT_DAYS}d"] = mean
    # No sales there in the window: the amount itself (against a 1.00 ticket), so
    # an unknown shop never makes an amount look more usual than a known one.
    amount = float(request.amount)
    out[f"term_amount_ratio_{TERMINAL_AMOUNT_DAYS}d"] = amount / mean if mean > 0 else amount
    return out
