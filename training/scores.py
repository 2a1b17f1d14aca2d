"""Per-row output of an evaluation: one score and decision per transaction.

``fraudlens evaluate --scores PATH`` writes it as Parquet or CSV (by suffix)
so users can join scores back to their own data. No card data is written:
the rows carry the transaction id, never the card token.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pandas as pd

from fraudlens.errors import DataError

logger = logging.getLogger(__name__)

SCORE_COLUMNS = ("transaction_id", "event_time", "score", "decision", "is_fraud")
_FORMATS = (".parquet", ".csv")


def check_scores_path(path: Path) -> None:
    """Refuse an output path of an unknown format before any work is done.

    Raises:
        DataError: the suffix is neither ``.parquet`` nor ``.csv``.
    """
    if path.suffix.lower() not in _FORMATS:
        raise DataError(
            f"{path}: unsupported scores file type {path.suffix!r} (use .parquet or .csv)"
        )


def score_table(frame: pd.DataFrame, scores: np.ndarray, decisions: np.ndarray) -> pd.DataFrame:
    """The per-row table: ``SCORE_COLUMNS`` plus ``fraud_scenario`` when the data has it.

    Args:
        frame: the scored rows (``transaction_id``, ``event_time``, ``is_fraud``).
        scores: one score per row.
        decisions: one ``approve`` / ``review`` / ``decline`` per row.
    """
    table = pd.DataFrame(
        {
            "transaction_id": frame["transaction_id"].astype(str).to_numpy(),
            "event_time": frame["event_time"].to_numpy(),
            "score": np.asarray(scores, dtype=np.float64),
            "decision": np.asarray(decisions, dtype=object).astype(str),
            "is_fraud": frame["is_fraud"].to_numpy(dtype=bool),
        }
    )
    if "fraud_scenario" in frame:
        table["fraud_scenario"] = frame["fraud_scenario"].to_numpy(dtype=object)
    return table


def write_scores(table: pd.DataFrame, path: Path) -> Path:
    """Write the per-row table as Parquet or CSV (by suffix); returns the path.

    Raises:
        DataError: unknown suffix, or the file cannot be written.
    """
    check_scores_path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        if path.suffix.lower() == ".parquet":
            table.to_parquet(path, index=False)
        else:
            table.to_csv(path, index=False, date_format="%Y-%m-%dT%H:%M:%S.%f%z")
    except OSError as exc:
        raise DataError(f"{path}: cannot write scores: {exc}") from exc
    logger.info("wrote %d scored rows to %s", len(table), path)
    return path
