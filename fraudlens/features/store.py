"""The one place training and serving read feature vectors from Feast.

Serving calls ``online_feature_columns``: one online read of the card and
terminal state of a whole batch (on Redis straight from Feast's keys, see
``state_reader``), then the ODFVs' own functions over it (no
Feast transformation layer in between). ``online_vectors`` asks Feast for a
feature service's vectors through the ODFVs, as a data scientist would; both
give the same bits (tests/integration/features/test_parity.py). Training calls
``historical_rows``: the per-transaction feature rows of the
``transaction_features`` view (a plain as-of join on ``transaction_id``), for
the feature names of the model's feature service. ``historical_vectors`` (the
point-in-time join over state rows + the same ODFVs) stays for parity checks.
Callers name a feature service (one per model version), never a copied list.
"""

from __future__ import annotations

import logging
import weakref
from collections.abc import Mapping, Sequence
from typing import Any

import pandas as pd
from pydantic import BaseModel

from fraudlens.errors import DataError, FeatureStoreError
from fraudlens.features.odfv import (
    REQUEST_FIELDS,
    card_feature_columns,
    request_columns,
    request_fields,
    terminal_feature_columns,
)
from fraudlens.features.online_ids import CODE_COLUMNS, device_code, history_codes, ip_code
from fraudlens.features.registry import FEATURE_NAMES
from fraudlens.features.repo import repo_config
from fraudlens.features.state import DEFAULT_MATURED_DELAY_DAYS, CardState, TerminalState, coord
from fraudlens.features.state_codec import card_from_row, terminal_from_row
from fraudlens.features.state_reader import state_reader
from fraudlens.features.transaction_rows import TXN_KEY, TXN_VIEW
from fraudlens.settings import Settings

logger = logging.getLogger(__name__)

DEFAULT_SERVICE = "fraud_model_v1"
ENTITY_COLUMNS = ("transaction_id", "event_time", "card_token", "terminal_id")
REQUEST_SOURCE_COLUMNS = ("merchant_id", "country", "amount", "latitude", "longitude")


def open_store(settings: Settings) -> Any:
    """A ``feast.FeatureStore`` for these settings (no files are written)."""
    from feast import FeatureStore

    return FeatureStore(config=repo_config(settings))


def _as_dict(request: BaseModel | Mapping[str, Any]) -> Mapping[str, Any]:
    return request.model_dump() if isinstance(request, BaseModel) else request


def entity_row(request: BaseModel | Mapping[str, Any]) -> dict[str, Any]:
    """The Feast entity row (join keys + request fields) for one transaction."""
    txn = _as_dict(request)
    return {
        "card_token": txn["card_token"],
        "terminal_id": txn["terminal_id"],
        **request_fields(txn),
    }


_SERVICES: weakref.WeakKeyDictionary[Any, dict[str, Any]] = weakref.WeakKeyDictionary()


def _service(store: Any, service: str) -> Any:
    # Feast rebuilds the service from its proto on every lookup (~1 ms with
    # type checks); a service is immutable once applied, so keep it per store.
    cached = _SERVICES.setdefault(store, {})
    if service not in cached:
        try:
            cached[service] = store.get_feature_service(service, allow_cache=True)
        except Exception as exc:
            raise FeatureStoreError(f"feature service {service!r}: {exc}") from exc
    return cached[service]


def online_vectors(
    store: Any,
    requests: Sequence[BaseModel | Mapping[str, Any]],
    service: str = DEFAULT_SERVICE,
) -> list[dict[str, float | int]]:
    """Feature vectors for transactions being scored now (online store + ODFVs).

    Args:
        store: a ``feast.FeatureStore`` (see ``open_store``).
        requests: ``Transaction`` objects or dicts with the schema field names.
        service: the feature service of the model version.

    Returns:
        One dict per request, features in registry order.
    """
    rows = [entity_row(r) for r in requests]
    if not rows:
        return []
    try:
        response = store.get_online_features(features=_service(store, service), entity_rows=rows)
        columns = response.to_dict()
    except FeatureStoreError:
        raise
    except Exception as exc:
        raise FeatureStoreError(f"online feature read failed: {exc}") from exc
    names = [n for n in FEATURE_NAMES if n in columns]
    return [{n: columns[n][i] for n in names} for i in range(len(rows))]


def _read_states(
    store: Any, cards: Sequence[str], terminals: Sequence[str]
) -> dict[str, list[Any]]:
    """The state blob of each (card, terminal) pair, from one online read.

    Redis: Feast's own keys read directly; other stores: ``get_online_features``
    (``fraudlens.features.state_reader``).

    Raises:
        FeatureStoreError: the online read failed.
    """
    return state_reader(store).read(cards, terminals)


def online_feature_columns(
    store: Any,
    requests: Sequence[BaseModel | Mapping[str, Any]],
    *,
    arrays: bool = False,
    matured_delay_days: int = DEFAULT_MATURED_DELAY_DAYS,
) -> dict[str, Any]:
    """Every registry feature for transactions being scored now, as columns.

    One online read for the state of all cards and terminals of the batch
    (``_read_states``), then ``card_feature_columns`` and
    ``terminal_feature_columns`` (the functions the ODFVs call) over the whole
    batch: the same values as ``online_vectors``, without Feast converting
    and re-checking the ODFVs' inputs and outputs row by row.

    With ``arrays``, a column computed with numpy stays an array (serving
    stacks them into one matrix); otherwise every column is a list.
    ``matured_delay_days``: ``features.matured_delay_days`` (serving passes it).

    Raises:
        FeatureStoreError: the online read failed.
    """
    if not requests:
        return {name: [] for name in FEATURE_NAMES}
    if all(isinstance(r, BaseModel) for r in requests):
        # Transactions: their attributes as columns, no dict per row (request_columns).
        cards = [r.card_token for r in requests]  # type: ignore[union-attr]
        terminals = [r.terminal_id for r in requests]  # type: ignore[union-attr]
        fields = request_columns(requests)
    else:
        rows = [entity_row(r) for r in requests]
        cards = [r["card_token"] for r in rows]
        terminals = [r["terminal_id"] for r in rows]
        fields = {name: [r[name] for r in rows] for name, _ in REQUEST_FIELDS}
    inputs = {**_read_states(store, cards, terminals), **fields}
    card = card_feature_columns(inputs, arrays=arrays)
    terminal = terminal_feature_columns(
        inputs, arrays=arrays, matured_delay_days=matured_delay_days
    )
    return {**card, **terminal}


def stored_state(
    store: Any, card_token: str, terminal_id: str | None
) -> tuple[CardState | None, TerminalState | None]:
    """The state the online store holds now for one card and one terminal (None: none).

    Raises:
        FeatureStoreError: the online read failed.
    """
    state = _read_states(store, [card_token], [terminal_id or ""])
    row = {name: values[0] for name, values in state.items()}
    terminal = terminal_from_row(row) if terminal_id else None
    return card_from_row(row), terminal


def online_vector(
    store: Any, request: BaseModel | Mapping[str, Any], service: str = DEFAULT_SERVICE
) -> dict[str, float | int]:
    """The feature vector of one transaction being scored (see ``online_vectors``)."""
    return online_vectors(store, [request], service)[0]


def entity_dataframe(transactions: pd.DataFrame) -> pd.DataFrame:
    """Feast entity dataframe (keys, ``event_timestamp``, request fields) for transactions."""
    missing = [c for c in ENTITY_COLUMNS + REQUEST_SOURCE_COLUMNS[:3] if c not in transactions]
    if missing:
        raise DataError(f"transactions lack columns {missing}")
    frame = transactions.reset_index(drop=True)
    times = pd.to_datetime(frame["event_time"], utc=True).astype("datetime64[us, UTC]")
    nan = pd.Series(float("nan"), index=frame.index)
    return pd.DataFrame(
        {
            "transaction_id": frame["transaction_id"].astype(str),
            "card_token": frame["card_token"].astype(str),
            "terminal_id": frame["terminal_id"].astype(str),
            "event_timestamp": times,
            "req_time_us": times.astype("int64"),
            "req_amount": frame["amount"].astype("float64"),
            "req_terminal_id": frame["terminal_id"].astype(str),
            "req_merchant_id": frame["merchant_id"].astype(str),
            "req_country": frame["country"].astype(str),
            "req_lat": frame.get("latitude", nan).astype("float64").map(coord),
            "req_lon": frame.get("longitude", nan).astype("float64").map(coord),
            **{
                req: history_codes(frame.get(name, nan), frame.get(CODE_COLUMNS[name]), code)
                for req, name, code in (
                    ("req_device", "device_id", device_code),
                    ("req_ip", "ip_address", ip_code),
                )
            },
        }
    )


def historical_vectors(
    store: Any, transactions: pd.DataFrame, service: str = DEFAULT_SERVICE
) -> pd.DataFrame:
    """Point-in-time feature vectors for past transactions (training, evaluation).

    Each transaction gets the features it would have had when it was scored:
    state rows at or before its ``event_time`` and the same ODFVs as online.

    Args:
        store: a ``feast.FeatureStore``.
        transactions: columns of ``schema.Transaction`` (at least ids, keys,
            ``event_time``, ``merchant_id``, ``country``, ``amount``); unique ids.
        service: the feature service of the model version.

    Returns:
        ``transaction_id``, ``event_timestamp`` and the features, in input order.

    Raises:
        DataError: duplicate transaction ids, or the join lost or added rows
            (an offline store that drops or repeats rows must not pass silently).
    """
    entity_df = entity_dataframe(transactions)
    if entity_df["transaction_id"].duplicated().any():
        raise DataError("historical_vectors: duplicate transaction_id in the input")
    rows_in = len(entity_df)
    try:
        job = store.get_historical_features(entity_df=entity_df, features=_service(store, service))
        result = job.to_df()
    except FeatureStoreError:
        raise
    except Exception as exc:
        raise FeatureStoreError(f"historical feature retrieval failed: {exc}") from exc
    rows_out = len(result)
    if rows_out != rows_in or set(result["transaction_id"]) != set(entity_df["transaction_id"]):
        raise DataError(f"historical join returned {rows_out} rows for {rows_in} transactions")
    logger.info("historical_vectors: %d rows in, %d rows out", rows_in, rows_out)
    names = [n for n in FEATURE_NAMES if n in result.columns]
    ordered = result.set_index("transaction_id").loc[entity_df["transaction_id"], names]
    ordered = ordered.reset_index()
    ordered.insert(1, "event_timestamp", entity_df["event_timestamp"])  # see historical_rows
    return ordered


def historical_rows(store: Any, transactions: pd.DataFrame, names: Sequence[str]) -> pd.DataFrame:
    """Feature rows of past transactions from the ``transaction_features`` view.

    Args:
        store: a ``feast.FeatureStore``.
        transactions: ``transaction_id`` and ``event_time``; unique ids.
        names: the features to read (a feature service's names, registry order).

    Returns:
        ``transaction_id``, ``event_timestamp`` and ``names``, in input order.

    Raises:
        DataError: duplicate ids; or a transaction has no feature row (never
            backfilled): the join must not drop it or train on missing values.
        FeatureStoreError: Feast could not answer.
    """
    frame = transactions.reset_index(drop=True)
    entity_df = pd.DataFrame(
        {
            TXN_KEY: frame["transaction_id"].astype(str),
            "event_timestamp": pd.to_datetime(frame["event_time"], utc=True).astype(
                "datetime64[us, UTC]"
            ),
        }
    )
    if entity_df[TXN_KEY].duplicated().any():
        raise DataError("historical_rows: duplicate transaction_id in the input")
    features = [f"{TXN_VIEW}:{name}" for name in names]
    try:
        result = store.get_historical_features(entity_df=entity_df, features=features).to_df()
    except Exception as exc:
        raise FeatureStoreError(f"historical feature retrieval failed: {exc}") from exc
    rows_in, rows_out = len(entity_df), len(result)
    if rows_out != rows_in or set(result[TXN_KEY]) != set(entity_df[TXN_KEY]):
        raise DataError(f"historical join returned {rows_out} rows for {rows_in} transactions")
    missing = result[list(names)].isna().any(axis=1) if names else pd.Series(False, result.index)
    if missing.any():
        raise DataError(
            f"{int(missing.sum())} of {rows_in} transactions have no row in the "
            f"{TXN_VIEW} view (first: {result.loc[missing, TXN_KEY].iloc[0]}): "
            "run `fraudlens features backfill` over their history"
        )
    logger.info("historical_rows: %d rows in, %d rows out", rows_in, rows_out)
    ordered = result.set_index(TXN_KEY).loc[entity_df[TXN_KEY], list(names)].reset_index()
    # The as-of time is the input's: offline stores return it with other types
    # (DuckDB: UTC microseconds; Spark: naive session-time nanoseconds).
    ordered.insert(1, "event_timestamp", entity_df["event_timestamp"])
    return ordered
