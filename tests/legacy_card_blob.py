"""Card blobs as the previous release wrote them (format 1: no device and IP columns)."""

from __future__ import annotations

import struct

from fraudlens.features.state import CardState
from fraudlens.features.state_codec import HEADER_SIZE, encode_card


def format_1_blob(state: CardState) -> bytes:
    """``encode_card(state)`` in format 1: the header says 1, the device and IP
    columns (after the four 8-byte columns) are left out."""
    blob = encode_card(state)
    n = len(state.ts)
    head = bytearray(blob[:HEADER_SIZE])
    struct.pack_into("<H", head, 4, 1)
    return bytes(head) + blob[HEADER_SIZE : HEADER_SIZE + 32 * n] + blob[HEADER_SIZE + 48 * n :]
