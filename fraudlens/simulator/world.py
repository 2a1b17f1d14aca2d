"""Static tables of the simulated world: cities, countries, MCCs, rhythms.

Figures are plausible round numbers, not statistics of any real portfolio.
Every currency is in ``schema.CURRENCIES`` and every country in
``schema.COUNTRIES`` (a unit test checks it).
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
import numpy.typing as npt


class City(NamedTuple):
    name: str
    country: str
    lat: float
    lon: float
    residents: float  # share of customers living there (0: travel/fraud destination)


class Country(NamedTuple):
    currency: str
    per_eur: float  # units of local currency per EUR
    ip_octets: tuple[int, ...]  # first IPv4 octets used for home IPs (synthetic)


class Mcc(NamedTuple):
    code: str
    share: float  # share of merchants of that kind
    amount_factor: float  # typical ticket relative to the customer's usual amount


# Most customers live in FR; the rest in neighbouring countries.
CITIES: tuple[City, ...] = (
    City("Paris", "FR", 48.8566, 2.3522, 0.30),
    City("Lyon", "FR", 45.7640, 4.8357, 0.09),
    City("Marseille", "FR", 43.2965, 5.3698, 0.08),
    City("Toulouse", "FR", 43.6047, 1.4442, 0.07),
    City("Lille", "FR", 50.6292, 3.0573, 0.06),
    City("Bordeaux", "FR", 44.8378, -0.5792, 0.06),
    City("Nantes", "FR", 47.2184, -1.5536, 0.05),
    City("Berlin", "DE", 52.5200, 13.4050, 0.05),
    City("Brussels", "BE", 50.8503, 4.3517, 0.05),
    City("Madrid", "ES", 40.4168, -3.7038, 0.04),
    City("Milan", "IT", 45.4642, 9.1900, 0.04),
    City("Amsterdam", "NL", 52.3676, 4.9041, 0.04),
    City("London", "GB", 51.5074, -0.1278, 0.02),
    City("Geneva", "CH", 46.2044, 6.1432, 0.01),
    City("New York", "US", 40.7128, -74.0060, 0.0),
    City("Bucharest", "RO", 44.4268, 26.1025, 0.0),
    City("Sao Paulo", "BR", -23.5505, -46.6333, 0.0),
    City("Bangkok", "TH", 13.7563, 100.5018, 0.0),
    City("Dubai", "AE", 25.2048, 55.2708, 0.0),
    City("Casablanca", "MA", 33.5731, -7.5898, 0.0),
    City("Warsaw", "PL", 52.2297, 21.0122, 0.0),
    City("Prague", "CZ", 50.0755, 14.4378, 0.0),
)
CITY_RADIUS_DEG = 0.06  # ~6 km spread of homes and shops around a city centre
TRAVEL_TERMINAL_SHARE = 0.06  # share of physical terminals in travel destinations

COUNTRIES: dict[str, Country] = {
    "FR": Country("EUR", 1.0, (2, 78, 82, 86, 90)),
    "DE": Country("EUR", 1.0, (46, 79, 84, 91)),
    "BE": Country("EUR", 1.0, (109, 178)),
    "ES": Country("EUR", 1.0, (81, 83, 88)),
    "IT": Country("EUR", 1.0, (93, 95, 151)),
    "NL": Country("EUR", 1.0, (77, 145, 213)),
    "IE": Country("EUR", 1.0, (89, 176)),
    "LU": Country("EUR", 1.0, (158, 188)),
    "GB": Country("GBP", 0.85, (25, 51, 212)),
    "CH": Country("CHF", 0.94, (85, 194)),
    "US": Country("USD", 1.08, (3, 8, 24, 66, 98)),
    "RO": Country("RON", 4.97, (5, 92)),
    "BR": Country("BRL", 5.9, (177, 179, 186)),
    "TH": Country("THB", 38.0, (110, 171)),
    "AE": Country("AED", 3.97, (94, 217)),
    "MA": Country("MAD", 10.8, (105, 196)),
    "PL": Country("PLN", 4.3, (31, 37)),
    "CZ": Country("CZK", 25.2, (62, 193)),
}
COUNTRY_CODES: tuple[str, ...] = tuple(COUNTRIES)

# First octets of IPs used by fraudsters (disjoint from every home range above).
FRAUD_IP_OCTETS: tuple[int, ...] = (41, 102, 103, 113, 154, 185, 197)

# Where e-commerce merchants are registered (country of the virtual terminal).
ONLINE_COUNTRIES: dict[str, float] = {
    "FR": 0.50,
    "IE": 0.10,
    "LU": 0.08,
    "NL": 0.08,
    "DE": 0.08,
    "GB": 0.06,
    "US": 0.10,
}

# Terminal kinds: the channel follows from the kind.
PHYSICAL, ATM, ONLINE = 0, 1, 2
KIND_CHANNEL: tuple[str, ...] = ("card_present", "atm", "ecommerce")
KIND_SHARE: tuple[float, ...] = (0.80, 0.08, 0.12)

PHYSICAL_MCCS: tuple[Mcc, ...] = (
    Mcc("5411", 0.26, 1.0),  # grocery stores, supermarkets
    Mcc("5812", 0.15, 1.1),  # restaurants
    Mcc("5814", 0.10, 0.4),  # fast food
    Mcc("5541", 0.09, 1.6),  # service stations (fuel)
    Mcc("5912", 0.06, 0.8),  # drug stores, pharmacies
    Mcc("5331", 0.07, 0.8),  # variety stores
    Mcc("5311", 0.05, 2.0),  # department stores
    Mcc("5651", 0.06, 2.0),  # family clothing
    Mcc("5732", 0.03, 5.0),  # electronics
    Mcc("4111", 0.05, 0.3),  # local commuter transport
    Mcc("7011", 0.03, 4.0),  # hotels
    Mcc("4722", 0.02, 8.0),  # travel agencies
    Mcc("5944", 0.03, 6.0),  # jewellery
)
ATM_MCC = Mcc("6011", 1.0, 1.0)  # automated cash disbursement
ONLINE_MCCS: tuple[Mcc, ...] = (
    Mcc("5999", 0.35, 1.5),  # miscellaneous retail (e-commerce)
    Mcc("5815", 0.20, 0.3),  # digital goods: media
    Mcc("5732", 0.10, 5.0),  # electronics
    Mcc("4722", 0.10, 8.0),  # travel
    Mcc("5969", 0.10, 1.5),  # direct marketing
    Mcc("5651", 0.15, 2.0),  # clothing
)
HIGH_TICKET_MCCS: frozenset[str] = frozenset({"5732", "5311", "5944", "5651"})

ATM_AMOUNTS = np.array([20, 40, 50, 60, 80, 100, 150, 200, 250, 300], dtype=np.float64)
ATM_AMOUNT_P = np.array([0.12, 0.12, 0.16, 0.08, 0.08, 0.18, 0.07, 0.11, 0.03, 0.05])

# Daily rhythm (UTC hour of day): few transactions at night, peaks at lunch and evening.
_HOURLY = np.array(
    [0.2, 0.1, 0.07, 0.05, 0.05, 0.1, 0.3, 0.7, 1.1, 1.3, 1.4, 1.6]
    + [1.9, 1.7, 1.4, 1.3, 1.4, 1.7, 1.9, 1.7, 1.3, 1.0, 0.7, 0.4]
)
HOUR_P: npt.NDArray[np.float64] = _HOURLY / _HOURLY.sum()

# Weekday seasonality, Monday first; mean 1 so the volume formula stays exact.
_WEEKDAY = np.array([0.92, 0.94, 0.97, 1.0, 1.12, 1.2, 0.85])
WEEKDAY_FACTOR: npt.NDArray[np.float64] = _WEEKDAY / _WEEKDAY.mean()
