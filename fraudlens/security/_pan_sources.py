"""File formats for the PAN scanner: Parquet, SQLite, Kafka dumps, HTML, plain text."""

from __future__ import annotations

import base64
import binascii
import html
import json
import re
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from fraudlens.security.pan_scan import Finding, _scan_values, find_pans, scan_text

_SQLITE_MAGIC = b"SQLite format 3\x00"
# Block tags end a text run; inline tags (span, b, a...) may split a number in two.
_BLOCK_TAG = re.compile(
    r"<\s*/?\s*(?:td|th|tr|p|div|li|br|hr|table|tbody|thead|h[1-6]|pre|ul|ol|body|head|title|"
    r"section|article|header|footer)\b[^>]*>",
    re.IGNORECASE,
)
_TAG = re.compile(r"<[^>]*>")
_KAFKA_FIELDS = ("key", "payload", "value", "headers")


def scan_file(path: Path, *, networks_only: bool = False) -> list[Finding]:
    """Scan one file, chosen by content: Parquet, SQLite, Kafka dump, HTML or text."""
    with open(path, "rb") as handle:
        head = handle.read(16)
    if head.startswith(b"PAR1"):
        return scan_parquet(path, networks_only=networks_only)
    if head.startswith(_SQLITE_MAGIC):
        return scan_sqlite(path, networks_only=networks_only)
    if head.startswith(b"FLSNAP"):
        return scan_snapshot(path, networks_only=networks_only)
    if path.suffix.lower() in {".html", ".htm"}:
        return scan_html(path, networks_only=networks_only)
    if _is_kafka_dump(path):
        return scan_kafka_dump(path, networks_only=networks_only)
    return scan_lines(path, networks_only=networks_only)


def scan_lines(path: Path, *, networks_only: bool = False) -> list[Finding]:
    """Scan any file line by line as bytes (logs, JSON, CSV, binaries)."""
    findings: list[Finding] = []
    with open(path, "rb") as handle:
        for number, raw in enumerate(handle, start=1):
            for hit in find_pans(raw.decode("latin-1"), networks_only=networks_only):
                findings.append(
                    Finding(str(path), f"line {number}, col {hit.start + 1}", hit.masked)
                )
    return findings


def scan_snapshot(path: Path, *, networks_only: bool = False) -> list[Finding]:
    """Scan a stream feature job state snapshot: its header and its uncompressed state."""
    from fraudlens.features.checkpoint import decode, state_bytes

    header, body = decode(path.read_bytes(), str(path))
    parts = (("header", json.dumps(header).encode()), ("state", state_bytes(body)))
    return [
        Finding(str(path), f"{part} offset {hit.start}", hit.masked)
        for part, data in parts
        for hit in find_pans(data.decode("latin-1"), networks_only=networks_only)
    ]


def scan_html(path: Path, *, networks_only: bool = False) -> list[Finding]:
    """Scan HTML as written, then its text with tags removed and entities decoded."""
    findings = scan_lines(path, networks_only=networks_only)
    raw = path.read_bytes().decode("utf-8", errors="replace")
    seen = {h.digits for h in find_pans(raw, networks_only=networks_only)}
    text = html.unescape(_TAG.sub("", _BLOCK_TAG.sub("\n", raw)))
    for hit in find_pans(text, networks_only=networks_only):
        if hit.digits not in seen:
            findings.append(
                Finding(str(path), "text content (split by tags or entities)", hit.masked)
            )
    return findings


def scan_parquet(path: Path, *, networks_only: bool = False) -> list[Finding]:
    """Scan every column (and the schema metadata) of a Parquet file, batch by batch."""
    source = str(path)
    parquet = pq.ParquetFile(path)
    meta = parquet.schema_arrow.metadata or {}
    header = (
        " ".join(parquet.schema_arrow.names)
        + " "
        + " ".join((k + b" " + v).decode("latin-1") for k, v in meta.items())
    )
    findings = [
        Finding(source, "schema", f.masked) for f in scan_text(header, networks_only=networks_only)
    ]
    offset = 0
    for batch in parquet.iter_batches(batch_size=65_536):
        for name, column in zip(batch.schema.names, batch.columns, strict=True):
            rows = _column_rows(name, column, offset)
            findings.extend(f for f, _ in _scan_values(rows, source, networks_only=networks_only))
        offset += batch.num_rows
    return findings


def _column_rows(name: str, column: pa.Array, offset: int) -> Iterator[tuple[str, Any]]:
    kind = column.type
    if pa.types.is_temporal(kind) or pa.types.is_boolean(kind) or pa.types.is_null(kind):
        return
    if pa.types.is_integer(kind) or pa.types.is_floating(kind):
        # Narrower types cannot hold 13 exact digits; in 64-bit columns only
        # numbers with 13+ digits can be PANs: skip the rest in bulk.
        if kind.bit_width < 64:
            return
        bound = pa.scalar(10**12, kind) if pa.types.is_integer(kind) else pa.scalar(1e12, kind)
        big = pc.fill_null(pc.greater_equal(pc.abs(column), bound), False)
        indices = pc.indices_nonzero(big).to_pylist()
        values = column.take(pa.array(indices, type=pa.int64())).to_pylist()
        for i, value in zip(indices, values, strict=True):
            yield f"column {name}, row {offset + i}", value
        return
    for i, value in enumerate(column.to_pylist()):
        yield f"column {name}, row {offset + i}", value


def scan_sqlite(path: Path, *, networks_only: bool = False) -> list[Finding]:
    """Scan every row of every table, then the raw file and its journal for leftovers.

    Deleted rows stay in SQLite's free pages until ``VACUUM``; a digit run found
    in the raw bytes but in no live row is reported as such.
    """
    source = str(path)
    findings: list[Finding] = []
    live: set[str] = set()
    con = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
    try:
        tables = [r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type='table'")]
        for table in tables:
            for finding, digits in _scan_values(
                _sqlite_rows(con, table), source, networks_only=networks_only
            ):
                findings.append(finding)
                live.add(digits)
    finally:
        con.close()
    for extra in (path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-journal")):
        if not extra.exists():
            continue
        for hit in find_pans(extra.read_bytes().decode("latin-1"), networks_only=networks_only):
            if hit.digits not in live:
                where = (
                    f"{extra.name} offset {hit.start} (in no live row: deleted data not vacuumed?)"
                )
                findings.append(Finding(source, where, hit.masked))
    return findings


def _sqlite_rows(con: sqlite3.Connection, table: str) -> Iterator[tuple[str, Any]]:
    quoted = '"' + table.replace('"', '""') + '"'
    try:
        cursor = con.execute(f"SELECT rowid, * FROM {quoted}")  # noqa: S608 - name from sqlite_master
        with_rowid = True
    except sqlite3.OperationalError:  # WITHOUT ROWID tables
        cursor = con.execute(f"SELECT * FROM {quoted}")  # noqa: S608
        with_rowid = False
    names = [d[0] for d in cursor.description]
    for index, row in enumerate(cursor):
        key = f"rowid {row[0]}" if with_rowid else f"row {index}"
        start = 1 if with_rowid else 0
        for name, value in zip(names[start:], row[start:], strict=True):
            yield f"table {table}, {key}, column {name}", value


def _is_kafka_dump(path: Path) -> bool:
    if path.suffix.lower() not in {".json", ".jsonl", ".ndjson"}:
        return False
    with open(path, "rb") as handle:
        first = handle.readline(1 << 20)
    try:
        record = json.loads(first)
    except ValueError:
        return False
    return isinstance(record, dict) and {"topic", "offset"} <= record.keys()


def scan_kafka_dump(path: Path, *, networks_only: bool = False) -> list[Finding]:
    """Scan a topic dump: JSON lines with topic/partition/offset and key/payload.

    The format of ``kcat -C -J`` (payload as text) and of dumps with
    ``value_b64`` / ``key_b64`` fields. Only message content is scanned, not
    metadata such as epoch-millisecond timestamps.
    """
    findings: list[Finding] = []
    with open(path, "rb") as handle:
        for number, raw in enumerate(handle, start=1):
            try:
                record = json.loads(raw)
            except ValueError:
                record = None
            if not isinstance(record, dict):
                text = raw.decode("latin-1")
                findings.extend(
                    Finding(str(path), f"line {number}", f.masked)
                    for f in scan_text(text, networks_only=networks_only)
                )
                continue
            where = f"topic {record.get('topic')} partition {record.get('partition')} offset {record.get('offset')}"
            rows = [(f"{where} {k}", v) for k, v in _kafka_fields(record)]
            findings.extend(
                f for f, _ in _scan_values(rows, str(path), networks_only=networks_only)
            )
    return findings


def _kafka_fields(record: dict[str, Any]) -> Iterator[tuple[str, Any]]:
    for name, value in record.items():
        if name in _KAFKA_FIELDS:
            yield name, value
        elif name.endswith("_b64") and isinstance(value, str):
            try:
                yield name, base64.b64decode(value, validate=True)
            except (binascii.Error, ValueError):
                yield name, value
