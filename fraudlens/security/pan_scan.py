"""Find card numbers (PANs) anywhere: text, bytes, logs, JSON, HTML, Parquet, SQLite, Kafka.

A candidate is a run of 13-19 digits, written together or in groups split by
single spaces or dashes (``4111 1111 1111 1111``), that passes the Luhn check
and does not start with 0 (ISO/IEC 7812: no payment card does). To keep the
noise low enough for a test that scans every output, digits glued to hex
letters (hashes, tokens), digits inside a UUID (whose leading groups are all
digits about once in 2,000 random UUIDs) and the fraction part of a decimal
number (``0.4111111111111111``) are not candidates. ``networks_only=True`` narrows
further to the payment networks' first digits (2-6), for sources full of
epoch-millisecond integers.

Findings carry a location and a masked value (last four digits only). Only
``find_pans`` hits hold the digits, for in-process redaction: never log them.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from fraudlens.security.tokenize import luhn_valid

MIN_DIGITS, MAX_DIGITS = 13, 19
REDACTED = "[PAN REDACTED]"

# A maximal run of digit groups joined by single spaces or dashes, not glued to
# hex letters or other digits, and not the fraction part of a decimal number.
_RUN = re.compile(r"(?<![0-9A-Fa-f])(?<!\d\.)\d+(?:[ -]\d+)*(?![0-9A-Fa-f])")
_GROUP = re.compile(r"\d+")
_UUID = re.compile(r"[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}")


@dataclass(frozen=True)
class Finding:
    """One card number found.

    Attributes:
        source: file path or a label for in-memory data.
        location: where in the source ("line 3, col 7", "column pan, row 12", ...).
        masked: the value with all but the last four digits masked.
    """

    source: str
    location: str
    masked: str


@dataclass(frozen=True)
class Hit:
    """A PAN within one string: offsets and the masked value (internal use)."""

    start: int
    end: int
    masked: str
    digits: str


class KafkaMessage(Protocol):
    """What ``scan_kafka_messages`` needs (``confluent_kafka.Message`` fits)."""

    def topic(self) -> str | None: ...
    def partition(self) -> int | None: ...
    def offset(self) -> int | None: ...
    def key(self) -> str | bytes | None: ...
    def value(self) -> str | bytes | None: ...


def mask(digits: str) -> str:
    """Mask all but the last four digits."""
    return "*" * (len(digits) - 4) + digits[-4:]


def _plausible(digits: str, networks_only: bool) -> bool:
    if not MIN_DIGITS <= len(digits) <= MAX_DIGITS or digits[0] == "0":
        return False
    if networks_only and digits[0] not in "23456":
        return False
    return luhn_valid(digits)


def find_pans(text: str, *, networks_only: bool = False) -> list[Hit]:
    """Return every PAN in ``text`` (see the module docstring for the rules)."""
    hits: list[Hit] = []
    if "-" in text:  # blank UUIDs out (same length, so offsets hold): a digit just
        # before one (``replica5 12345678-1521-...``) must not join its digits
        text = _UUID.sub(lambda m: "u" * len(m.group()), text)
    for run in _RUN.finditer(text):
        groups = list(_GROUP.finditer(run.group()))
        sizes = [len(g.group()) for g in groups]
        # The card may be only part of a grouped run (an expiry or a CVV beside
        # it): try the windows of whole groups holding 13-19 digits, longest
        # first, left to right. At most 19 groups fit a window, so a long run of
        # small numbers costs linear time.
        i = 0
        while i < len(groups):
            ends, total = [], 0
            for j in range(i, len(groups)):
                total += sizes[j]
                if total > MAX_DIGITS:
                    break
                if total >= MIN_DIGITS:
                    ends.append(j + 1)
            for j in reversed(ends):
                digits = "".join(g.group() for g in groups[i:j])
                if _plausible(digits, networks_only):
                    start, end = run.start() + groups[i].start(), run.start() + groups[j - 1].end()
                    hits.append(Hit(start, end, mask(digits), digits))
                    i = j - 1
                    break
            i += 1
    return hits


def redact(text: str, *, networks_only: bool = False) -> str:
    """Replace every PAN in ``text`` with ``[PAN REDACTED]``."""
    hits = find_pans(text, networks_only=networks_only)
    for hit in reversed(hits):
        text = text[: hit.start] + REDACTED + text[hit.end :]
    return text


def scrub(value: Any) -> Any:
    """Redact PANs in a JSON-like value (strings, integers, lists, dicts)."""
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, bool):
        return value
    if isinstance(value, int):
        return REDACTED if find_pans(str(value)) else value
    if isinstance(value, dict):
        return {scrub(k): scrub(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [scrub(v) for v in value]
    return value


def value_text(value: Any) -> str | None:
    """Text to scan for one stored value (None: nothing to scan)."""
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, bytes | bytearray | memoryview):
        return bytes(value).decode("latin-1")
    if isinstance(value, float):
        # A PAN kept in a float column (a CSV read by pandas) is still a PAN.
        return str(int(value)) if value.is_integer() and abs(value) < 1e19 else None
    if isinstance(value, dict | list | tuple):
        import json

        return json.dumps(value, default=str)
    return str(value)


def scan_text(text: str, source: str = "<text>", *, networks_only: bool = False) -> list[Finding]:
    """Scan text line by line; locations are ``line L, col C`` (1-based)."""
    findings = []
    for number, line in enumerate(text.splitlines(), start=1):
        for hit in find_pans(line, networks_only=networks_only):
            findings.append(Finding(source, f"line {number}, col {hit.start + 1}", hit.masked))
    return findings


def scan_bytes(
    data: bytes, source: str = "<bytes>", *, networks_only: bool = False
) -> list[Finding]:
    """Scan raw bytes for ASCII digit runs; locations are byte offsets."""
    text = data.decode("latin-1")
    return [
        Finding(source, f"offset {hit.start}", hit.masked)
        for hit in find_pans(text, networks_only=networks_only)
    ]


def _scan_values(
    rows: Iterable[tuple[str, Any]], source: str, *, networks_only: bool = False
) -> Iterator[tuple[Finding, str]]:
    """Scan ``(location, value)`` pairs; yields findings with their digits (for dedup)."""
    for location, value in rows:
        text = value_text(value)
        if text:
            for hit in find_pans(text, networks_only=networks_only):
                yield Finding(source, location, hit.masked), hit.digits


def scan_kafka_messages(
    messages: Iterable[KafkaMessage], source: str = "kafka", *, networks_only: bool = False
) -> list[Finding]:
    """Scan consumed Kafka messages (key and value) without keeping them."""

    def pairs() -> Iterator[tuple[str, Any]]:
        for msg in messages:
            where = f"topic {msg.topic()} partition {msg.partition()} offset {msg.offset()}"
            yield f"{where} key", msg.key()
            yield f"{where} value", msg.value()

    return [f for f, _ in _scan_values(pairs(), source, networks_only=networks_only)]


def scan_file(path: Path, *, networks_only: bool = False) -> list[Finding]:
    """Scan one file, chosen by content: Parquet, SQLite, Kafka dump, HTML or text."""
    from fraudlens.security import _pan_sources

    return _pan_sources.scan_file(path, networks_only=networks_only)


def scan_paths(paths: Iterable[Path], *, networks_only: bool = False) -> list[Finding]:
    """Scan files and, recursively, folders; returns every finding."""
    findings: list[Finding] = []
    for root in paths:
        files = sorted(p for p in root.rglob("*") if p.is_file()) if root.is_dir() else [root]
        for path in files:
            findings.extend(scan_file(path, networks_only=networks_only))
    return findings
