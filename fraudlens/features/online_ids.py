"""Device ids and IP addresses as the card state keeps them: hashed int64 codes.

Device ids and IPs are personal data, and features only ask "has the card
used this one before?": equality of codes answers that. So no runner keeps
the value itself: every one turns it into a code here, once, where the event
or the request is read, and the state, the blobs, the feature rows and the
Feast request columns hold only codes.

A code is the first 8 bytes of ``sha256(kind | value)`` with the sign bit
cleared (a positive int64; 0 maps to 1); for an IP, the value is the network
number (the address's integer without its host bits). Plain, not keyed: every runner
(stream job, Spark backfill, serving, training) must give the same code
without sharing a secret, and a key rotation would make every card's devices
look new. It is a pseudonym, not anonymisation: a known device id or IP can
be hashed and looked up (docs/security.md says so).

An IPv4 address counts by its /24 network, an IPv6 one by its /64: home and
mobile users keep their network while DHCP or privacy extensions change the
last bits, so a card at its usual ISP does not look like a new place.

Reserved codes: ``NO_ID`` (the transaction had no device / IP: card-present)
and ``UNKNOWN_ID`` (recorded before the state kept them: a format 1 blob; a
value encrypted at rest with no code beside it).

History files: the importer encrypts ``device_id`` and ``ip_address`` at rest,
so it also writes their codes (``CODE_COLUMNS``) while it holds the values;
the history readers (Spark backfill, in-memory training features, historical
retrieval) take a row's code from there and hash the value only where none is
stored (simulated history, in clear): ``history_codes``.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable, Iterable
from hashlib import sha256
from typing import Any

from fraudlens.security.encryption import is_ciphertext

NO_ID = 0
UNKNOWN_ID = -1
# History columns of the codes, by the schema field they are the code of.
CODE_COLUMNS = {"device_id": "device_code", "ip_address": "ip_code"}
_SIGN_BIT = (1 << 63) - 1


def _code(kind: bytes, value: str) -> int:
    code = int.from_bytes(sha256(kind + b"|" + value.encode()).digest()[:8], "little")
    return (code & _SIGN_BIT) or 1


def device_code(value: str | None) -> int:
    """The code of a device id; ``NO_ID`` for none, ``UNKNOWN_ID`` for a ciphertext
    (history encrypted at rest: its device cannot be compared)."""
    if value is None or value != value or value == "":  # None, NaN, empty
        return NO_ID
    if is_ciphertext(value):
        return UNKNOWN_ID
    return _code(b"device", str(value))


def ip_code(value: str | None) -> int:
    """The code of an IP address's network (IPv4 /24, IPv6 /64); ``NO_ID`` for none,
    ``UNKNOWN_ID`` for a ciphertext or a value that is not an IP address."""
    if value is None or value != value or value == "":
        return NO_ID
    if is_ciphertext(value):
        return UNKNOWN_ID
    try:
        address = ipaddress.ip_address(str(value))
    except ValueError:
        return UNKNOWN_ID
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
        address = address.ipv4_mapped  # ::ffff:a.b.c.d is that IPv4 address
    if address.version == 4:
        return _code(b"ip4", str(int(address) >> 8))  # the /24 network
    return _code(b"ip6", str(int(address) >> 64))  # the /64 network


def history_codes(
    values: Iterable[Any], stored: Iterable[Any] | None, code: Callable[[str | None], int]
) -> list[int]:
    """The codes of a history column: a row's ``stored`` code (the importer's) when it
    has one, else ``code`` of its value."""
    if stored is None:
        return [code(v) for v in values]
    return [
        int(s) if s is not None and s == s else code(v) for v, s in zip(values, stored, strict=True)
    ]


def code_columns(values: dict[str, Iterable[Any]]) -> dict[str, list[int]]:
    """The ``CODE_COLUMNS`` of a transactions table's ``device_id`` / ``ip_address``
    (what the importer stores before it encrypts them)."""
    codes = {"device_id": device_code, "ip_address": ip_code}
    return {CODE_COLUMNS[name]: [codes[name](v) for v in column] for name, column in values.items()}
