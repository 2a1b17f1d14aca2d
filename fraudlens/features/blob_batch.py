"""Many state blobs read at once: one aligned buffer and their headers as arrays.

``state_codec`` reads one blob at a time (a few numpy views per blob, a few
microseconds of Python each). A batch reader (``compute``,
``compute_terminal``) instead joins a batch's blobs into one buffer, each
blob starting on an 8-byte boundary, reads every header with array indexing
and gathers each field of every row with one index array. The checks are the
codec's, made on arrays; a blob that fails one is read again by the codec's
own reader, which raises its error.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from fraudlens.errors import FeatureStoreError
from fraudlens.features.state_codec import HEADER_SIZE

Ints = NDArray[np.int64]
_PADS = [bytes(k) for k in range(8)]


@dataclass(frozen=True, slots=True)
class Blobs:
    """The blobs of a batch in one buffer; per row (0 for a row without a blob):
    its byte ``start``, its ``size``, the two counts and the format ``version``
    of its header."""

    buffer: bytes
    present: NDArray[np.bool_]
    start: Ints
    size: Ints
    first: Ints
    second: Ints
    version: Ints
    rows: list[Any]
    read: Callable[[Any], object]

    def require(self, ok: NDArray[np.bool_]) -> None:
        """Raise the codec's error for the first row with a blob that is not ``ok``.

        Raises:
            FeatureStoreError: a blob is not readable (the codec's message).
        """
        for i in np.flatnonzero(~ok & self.present).tolist():
            self.read(self.rows[i])
            raise FeatureStoreError("state blob failed a batch check the codec passed")

    def words(self, dtype: str) -> NDArray[Any]:
        """The buffer as little-endian words of ``dtype`` ("<i8", "<f8", "<i4", "<u4")."""
        return np.frombuffer(self.buffer, dtype=dtype)


def gather(base: Ints, counts: Ints) -> Ints:
    """Indices ``base[i] + 0 .. counts[i] - 1`` of every row, concatenated."""
    total = int(counts.sum())
    ends = np.cumsum(counts)
    within = np.arange(total, dtype=np.int64) - np.repeat(ends - counts, counts)
    index: Ints = np.repeat(base, counts) + within
    return index


def join(
    values: Sequence[Any],
    magic: bytes,
    versions: tuple[int, ...],
    read: Callable[[Any], object],
) -> Blobs:
    """The blobs of ``values`` (None: no blob) joined, their headers checked.

    Args:
        values: one blob or None per row.
        magic: the blob kind's magic bytes.
        versions: the format versions the codec reads.
        read: the codec's reader of one blob, called to raise its error.

    Raises:
        FeatureStoreError: a value is not a blob, or a header is not readable.
    """
    rows = list(values)
    for i, value in enumerate(rows):
        if value is not None and type(value) is not bytes:
            read(value)  # raises for a value that is no blob
            rows[i] = bytes(value)
    parts: list[bytes] = []
    sizes: list[int] = []
    for blob in rows:
        size = 0 if blob is None else len(blob)
        sizes.append(size)
        if size:
            parts += (blob, _PADS[-size % 8])
    size_of = np.array(sizes, dtype=np.int64)
    start = np.zeros(len(rows), dtype=np.int64)
    np.cumsum((size_of + (-size_of % 8))[:-1], out=start[1:])
    # 8 spare bytes: reading a field of a row without a blob stays inside.
    buffer = b"".join([*parts, bytes(8)])
    zeros = np.zeros(len(rows), dtype=np.int64)
    has = np.array([blob is not None for blob in rows], dtype=bool)
    blobs = Blobs(buffer, has, start, size_of, zeros, zeros, zeros, rows, read)
    blobs.require(size_of >= HEADER_SIZE)  # an empty blob too
    if not has.any():
        return blobs
    at = np.where(has, start, 0)
    u8 = blobs.words("u1")
    found = u8[at[:, None] + np.arange(len(magic))] == np.frombuffer(magic, dtype="u1")
    blobs.require(found.all(axis=1))
    version = np.where(has, blobs.words("<u2")[(at + 4) // 2], 0).astype(np.int64)
    blobs.require(np.isin(version, versions))
    counts = blobs.words("<u4")
    first = np.where(has, counts[(at + 8) // 4], 0).astype(np.int64)
    second = np.where(has, counts[(at + 12) // 4], 0).astype(np.int64)
    return Blobs(buffer, has, start, size_of, first, second, version, rows, read)
