"""Where the transaction history is: simulated, imported, or a configured folder.

``fraudlens simulate`` writes ``DATA_DIR/sim`` and ``fraudlens import`` writes
``DATA_DIR/import`` (plus ``import.json``, what the import recorded about the
data: its mapping's ``label_delay_days`` and declared passthrough columns,
``extras``). Training and the feature backfill
read the history with one rule:

1. ``training.history_dir`` (``FRAUDLENS_TRAINING__HISTORY_DIR``) when set;
2. otherwise whichever of ``DATA_DIR/sim`` and ``DATA_DIR/import`` holds
   ``transactions.parquet`` and ``labels.parquet``; when both do, the one
   written last, said in a log line;
3. otherwise an error naming every place looked at and the setting to set.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from fraudlens.errors import DataError

if TYPE_CHECKING:
    from fraudlens.features.extras import ExtrasMapping

logger = logging.getLogger(__name__)

FILES = ("transactions.parquet", "labels.parquet")
IMPORT_INFO = "import.json"
HISTORY_SETTING = "FRAUDLENS_TRAINING__HISTORY_DIR"


@dataclass(frozen=True)
class History:
    """A history folder and what is known about it.

    Attributes:
        folder: holds ``transactions.parquet`` and ``labels.parquet``.
        origin: ``setting``, ``sim`` or ``import``.
        label_delay_days: the import mapping's label delay (None: not imported,
            or imported before the importer recorded it).
    """

    folder: Path
    origin: str
    label_delay_days: float | None = None


def _complete(folder: Path) -> bool:
    return all((folder / name).is_file() for name in FILES)


def _import_info(folder: Path) -> dict[str, Any]:
    path = folder / IMPORT_INFO
    if not path.is_file():
        return {}
    try:
        info = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise DataError(f"{path}: cannot read: {exc}") from exc
    return info if isinstance(info, dict) else {}


def import_extras(folder: Path) -> ExtrasMapping:
    """The passthrough columns an import declared, numeric and categorical (empty: none).

    Raises:
        DataError: ``import.json`` cannot be read or its ``extras`` are invalid.
    """
    from fraudlens.features.extras import declared

    try:
        return declared(_import_info(folder))
    except ValueError as exc:  # pydantic's ValidationError is one
        raise DataError(f"{folder / IMPORT_INFO}: {exc}") from exc


def _history(folder: Path, origin: str) -> History:
    delay = _import_info(folder).get("label_delay_days")
    return History(folder, origin, float(delay) if delay is not None else None)


def find_history(data_dir: Path, configured: Path | None = None) -> History:
    """The history folder, by the rule of the module docstring.

    Args:
        data_dir: ``settings.data_dir``.
        configured: ``settings.training.history_dir`` (None: not set).

    Raises:
        DataError: no folder holds both files; names every place looked at.
    """
    if configured is not None:
        if not _complete(configured):
            raise DataError(
                f"no history in {configured} (set by {HISTORY_SETTING}): it needs "
                f"{' and '.join(FILES)}"
            )
        return _history(configured, "setting")
    found = [
        (origin, data_dir / origin) for origin in ("sim", "import") if _complete(data_dir / origin)
    ]
    if not found:
        looked = " and ".join(str(data_dir / name) for name in ("sim", "import"))
        raise DataError(
            f"no transaction history found: looked in {looked} for {' and '.join(FILES)}. "
            f"Run `fraudlens simulate` or `fraudlens import`, or set {HISTORY_SETTING} "
            "to the folder that holds them"
        )
    origin, folder = max(found, key=lambda item: (item[1] / FILES[0]).stat().st_mtime_ns)
    if len(found) > 1:
        logger.info(
            "history: both %s and %s exist; using %s, the newer (set %s to choose)",
            found[0][1],
            found[1][1],
            folder,
            HISTORY_SETTING,
        )
    else:
        logger.info("history: %s", folder)
    return _history(folder, origin)


def write_import_info(folder: Path, info: dict[str, Any]) -> Path:
    """Record facts about an import beside its Parquet files (``import.json``)."""
    path = folder / IMPORT_INFO
    path.write_text(json.dumps(info, indent=2, default=str) + "\n")
    return path
