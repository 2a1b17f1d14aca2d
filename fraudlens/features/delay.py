"""One matured-window delay for the model, the feature store and the settings.

``features.matured_delay_days`` shapes the ``term_matured_*`` features: their
windows end that many days before today. A value is baked into three places,
and each is checked against the setting where it is used:

* a model's metadata (``matured_delay_days``, written by training): serving
  refuses a model that uses matured features with another delay
  (``check_model_delay``): its trees learned thresholds on 7-day matured rates
  and would silently read 3-day ones;
* the Feast registry: the terminal ODFV's tag, written by ``fraudlens features
  apply`` (``check_registry_delay``): the store's own path (``online_vectors``,
  ``historical_vectors``) must compute what serving computes;
* the per-transaction feature rows (the Parquet files' metadata, written by the
  backfill and the stream job): training refuses rows computed with another
  delay (``check_rows_delay``).

Anything recorded before the setting existed used the constant 7 days.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq

from fraudlens.errors import DataError, FeatureStoreError, ModelError
from fraudlens.features.state import DEFAULT_MATURED_DELAY_DAYS

DELAY_KEY = "matured_delay_days"
# Parquet schema metadata key of the per-transaction feature files.
ROWS_METADATA_KEY = b"fraudlens.matured_delay_days"
TERMINAL_ODFV = "terminal_request_features"
MATURED_PREFIX = "term_matured_"
REBUILD = (
    "after changing features.matured_delay_days run `fraudlens features apply`, "
    "`fraudlens features backfill`, restart the stream job from scratch (--no-snapshot) "
    "and retrain"
)


def uses_matured(feature_names: Iterable[str]) -> bool:
    """Whether any of the features depends on the matured-window delay."""
    return any(name.startswith(MATURED_PREFIX) for name in feature_names)


def _recorded(value: Any) -> int:
    # Nothing recorded: made before the setting, with the constant 7 days.
    return DEFAULT_MATURED_DELAY_DAYS if value is None else int(value)


def model_delay(metadata: Mapping[str, Any], feature_names: Iterable[str]) -> int | None:
    """The delay a model was trained with; None when it uses no matured feature."""
    if not uses_matured(feature_names):
        return None
    return _recorded(metadata.get(DELAY_KEY))


def check_model_delay(
    version: str, metadata: Mapping[str, Any], feature_names: Iterable[str], configured: int
) -> None:
    """Refuse to serve a model trained with another matured delay than the store's.

    Raises:
        ModelError: the model uses matured features computed with another delay.
    """
    trained = model_delay(metadata, feature_names)
    if trained is not None and trained != configured:
        raise ModelError(
            f"model {version} was trained on matured windows ending {trained} days before "
            f"the transaction, the feature store computes them with "
            f"features.matured_delay_days={configured}: serve it with "
            f"FRAUDLENS_FEATURES__MATURED_DELAY_DAYS={trained}, or retrain it ({REBUILD})"
        )


def registry_delay(odfv: Any) -> int:
    """The delay a terminal ODFV from the Feast registry was applied with."""
    return _recorded((getattr(odfv, "tags", None) or {}).get(DELAY_KEY))


def check_registry_delay(store: Any, configured: int) -> None:
    """Refuse a Feast registry applied with another delay than the settings'.

    Raises:
        FeatureStoreError: the terminal ODFV carries another delay, or cannot be read.
    """
    try:
        odfv = store.get_on_demand_feature_view(TERMINAL_ODFV, allow_registry_cache=False)
    except Exception as exc:
        raise FeatureStoreError(f"on-demand view {TERMINAL_ODFV!r}: {exc}") from exc
    applied = registry_delay(odfv)
    if applied != configured:
        raise FeatureStoreError(
            f"the feature store was applied with features.matured_delay_days={applied}, "
            f"the settings say {configured}: {REBUILD}"
        )


def rows_metadata(matured_delay_days: int) -> dict[bytes, bytes]:
    """The Parquet schema metadata of per-transaction feature rows with this delay."""
    return {ROWS_METADATA_KEY: str(matured_delay_days).encode()}


def rows_delays(folder: Path) -> Counter[int]:
    """How many per-transaction feature files of ``folder`` have each delay.

    Reads the files' footers only; files without rows (the schema file) are skipped.
    """
    counts: Counter[int] = Counter()
    for path in sorted(folder.glob("*.parquet")):
        meta = pq.read_metadata(path)
        if meta.num_rows == 0:
            continue
        value = (meta.schema.to_arrow_schema().metadata or {}).get(ROWS_METADATA_KEY)
        counts[_recorded(None if value is None else value.decode())] += 1
    return counts


def check_rows_delay(folder: Path, configured: int) -> None:
    """Refuse to train on feature rows computed with another delay than the settings'.

    Raises:
        DataError: some files of ``folder`` hold rows made with another delay.
    """
    other = {delay: n for delay, n in rows_delays(folder).items() if delay != configured}
    if other:
        found = ", ".join(f"{n} file(s) with {d} days" for d, n in sorted(other.items()))
        raise DataError(
            f"{folder} holds feature rows computed with another matured delay ({found}), "
            f"the settings say features.matured_delay_days={configured}: {REBUILD}"
        )
