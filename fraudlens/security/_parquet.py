"""Safe in-place rewrites of Parquet files: temp file, verify, atomic replace.

Used by key rotation and erasure. The old file is only replaced after the new
one has been written, fsynced, read back and accepted by the caller's check,
so a crash or a failed check leaves the original untouched.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from fraudlens.errors import DataError


def parquet_files(root: Path) -> Iterator[Path]:
    """Every ``*.parquet`` file under ``root`` (or ``root`` itself), sorted."""
    if root.is_file():
        if root.suffix == ".parquet":
            yield root
        return
    if root.is_dir():
        # Dot-files are other writers' files in progress (renamed when complete).
        files = (p for p in root.rglob("*.parquet") if p.is_file() and not p.name.startswith("."))
        yield from sorted(files)


def read_table(path: Path, columns: list[str] | None = None) -> pa.Table:
    """Read a Parquet file (or some columns), wrapping pyarrow errors."""
    try:
        return pq.read_table(path, columns=columns)
    except (OSError, pa.ArrowException) as exc:
        raise DataError(f"{path}: cannot read Parquet ({exc})") from exc


def column_names(path: Path) -> list[str]:
    """Column names of a Parquet file, from its footer only."""
    try:
        return list(pq.read_schema(path).names)
    except (OSError, pa.ArrowException) as exc:
        raise DataError(f"{path}: cannot read Parquet ({exc})") from exc


def replace_verified(
    path: Path, table: pa.Table, verify: Callable[[pa.Table], None] | None = None
) -> None:
    """Write ``table`` over ``path`` atomically, after ``verify`` accepts the read-back.

    Args:
        path: the Parquet file to replace.
        table: the new content.
        verify: called with the table read back from the temporary file; raise
            to abort (the original file is kept).
    """
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        pq.write_table(table, tmp)
        with open(tmp, "rb") as handle:
            os.fsync(handle.fileno())
        written = read_table(tmp)
        if not written.schema.equals(table.schema, check_metadata=False):
            raise DataError(f"{path}: schema changed while rewriting")
        if verify is not None:
            verify(written)
        os.chmod(tmp, path.stat().st_mode & 0o777)
        os.replace(tmp, path)
        fsync_dir(path.parent)
    finally:
        tmp.unlink(missing_ok=True)


def fsync_dir(folder: Path) -> None:
    """Make renames and removals in ``folder`` durable."""
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
