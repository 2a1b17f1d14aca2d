"""Where the stream feature job's state snapshots live: a small store interface.

Two implementations:

* ``LocalSnapshotStore``: a folder (embedded default ``DATA_DIR/checkpoints``,
  or a mounted volume). A snapshot is written to a temporary file, flushed to
  disk, then renamed into place, so a reader sees a whole snapshot or none.
* ``FsspecSnapshotStore``: any fsspec URL (``s3://bucket/fraudlens``,
  ``gs://...``, ``abfs://...``; the matching fsspec plugin must be installed).
  An object store makes a PUT visible whole, which is the atomicity needed.

Names sort in write order (a zero-padded sequence number), so the newest is
the last one listed. A PostgreSQL table could follow the same interface once a
migration adds it.
"""

from __future__ import annotations

import os
import uuid
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from fraudlens.errors import ConfigError

if TYPE_CHECKING:
    from fraudlens.settings import Settings

SUFFIX = ".snap"


class SnapshotStore(Protocol):
    """Named byte blobs under one prefix; writes are atomic."""

    def names(self, prefix: str) -> list[str]:
        """Names starting with ``prefix``, oldest first."""
        ...

    def write(self, name: str, data: bytes) -> None:
        """Store ``data`` under ``name``: readers see all of it or nothing."""
        ...

    def read(self, name: str) -> bytes:
        """The bytes stored under ``name``."""
        ...

    def delete(self, name: str) -> None:
        """Remove ``name`` (no error when it is gone)."""
        ...

    def describe(self) -> str:
        """Where the snapshots are, for logs and errors."""
        ...


class LocalSnapshotStore:
    """Snapshots as files in one folder (created on first write)."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def names(self, prefix: str) -> list[str]:
        if not self.root.is_dir():
            return []
        return sorted(p.name for p in self.root.glob(f"{prefix}*{SUFFIX}") if p.is_file())

    def write(self, name: str, data: bytes) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        tmp = self.root / f".{name}.{uuid.uuid4().hex[:8]}.tmp"
        with open(tmp, "wb") as out:
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, self.root / name)
        fd = os.open(self.root, os.O_RDONLY)  # make the rename itself durable
        try:
            os.fsync(fd)
        finally:
            os.close(fd)

    def read(self, name: str) -> bytes:
        return (self.root / name).read_bytes()

    def delete(self, name: str) -> None:
        (self.root / name).unlink(missing_ok=True)

    def describe(self) -> str:
        return str(self.root)


class FsspecSnapshotStore:
    """Snapshots as objects under an fsspec URL (object storage on Kubernetes)."""

    def __init__(self, url: str) -> None:
        try:
            import fsspec
        except ImportError as exc:  # pragma: no cover - fsspec comes with feast
            raise ConfigError("checkpoint.url needs the fsspec package") from exc
        try:
            fs, root = fsspec.core.url_to_fs(url)
        except (ImportError, ValueError) as exc:
            raise ConfigError(f"checkpoint.url {url!r} cannot be opened: {exc}") from exc
        self.url = url
        self._fs: Any = fs
        self._root = str(root).rstrip("/")

    def _path(self, name: str) -> str:
        return f"{self._root}/{name}"

    def names(self, prefix: str) -> list[str]:
        try:
            paths = self._fs.find(self._root)
        except FileNotFoundError:
            return []
        names = (str(p).rsplit("/", 1)[-1] for p in paths)
        return sorted(n for n in names if n.startswith(prefix) and n.endswith(SUFFIX))

    def write(self, name: str, data: bytes) -> None:
        self._fs.makedirs(self._root, exist_ok=True)
        self._fs.pipe_file(self._path(name), data)

    def read(self, name: str) -> bytes:
        return bytes(self._fs.cat_file(self._path(name)))

    def delete(self, name: str) -> None:
        try:
            self._fs.rm_file(self._path(name))
        except FileNotFoundError:
            pass

    def describe(self) -> str:
        return self.url


def open_snapshot_store(settings: Settings) -> SnapshotStore:
    """The store named by ``checkpoint.url`` (a local folder when it is empty or a path).

    Raises:
        ConfigError: a local folder in production mode, or an unusable URL.
    """
    url = settings.checkpoint.resolved_url(settings.mode, settings.data_dir)
    if "://" not in url or url.startswith("file://"):
        return LocalSnapshotStore(Path(url.removeprefix("file://")))
    return FsspecSnapshotStore(url)
