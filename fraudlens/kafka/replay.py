"""Replay a table of transactions (or labels) onto Kafka, in time order, at a set pace.

Only the schema's columns are published: ground truth kept beside simulated
transactions (``is_fraud``, ``fraud_scenario``, ``label_time``...) never
leaves the process. JSON is built column-wise (no pydantic model per row),
in the shape ``schema.to_json`` gives: missing optional values are omitted and
times are ISO 8601 in UTC.
"""

from __future__ import annotations

import itertools
import json
import logging
import math
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import numpy as np
import pandas as pd
from pydantic import BaseModel

from fraudlens.errors import DataError
from fraudlens.kafka.producer import EventProducer
from fraudlens.schema import EXTRA_COLUMN_PREFIX, SCHEMA_VERSION, Label, Transaction

logger = logging.getLogger(__name__)

_encode_str: Callable[[str], str] = json.encoder.encode_basestring
CHUNK_ROWS = 20_000


@dataclass(frozen=True, slots=True)
class ReplayResult:
    """What a replay published.

    Attributes:
        topic: destination topic.
        events: events published (all acknowledged by the broker).
        seconds: wall time from the first send to the final flush.
        rate: achieved events per second.
    """

    topic: str
    events: int
    seconds: float
    rate: float


class TokenBucket:
    """Paces a loop at ``rate`` events per second, allowing bursts of ``burst`` events.

    ``take(n)`` blocks until ``n`` tokens are available. Short waits are
    accumulated as debt and slept off together (at least ``min_sleep``
    seconds at a time), so high rates do not cost a sleep call per event;
    the long-run rate stays exact.

    Args:
        rate: events per second (> 0).
        burst: bucket size; 50 ms worth of events (at least 1) by default.
        clock: monotonic clock, injectable for tests.
        sleep: sleep function, injectable for tests.
        min_sleep: smallest sleep taken.
    """

    def __init__(
        self,
        rate: float,
        burst: float | None = None,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
        min_sleep: float = 0.002,
    ) -> None:
        if not rate > 0 or not math.isfinite(rate):
            raise ValueError(f"rate must be a positive number, not {rate!r}")
        self.rate = float(rate)
        self.capacity = float(burst) if burst is not None else max(1.0, self.rate * 0.05)
        self.min_sleep = min_sleep
        self._clock = clock
        self._sleep = sleep
        self._tokens = 0.0
        self._last = clock()

    def wait_time(self, n: float = 1.0) -> float:
        """Take ``n`` tokens and return how long the caller owes (seconds; 0 if none)."""
        now = self._clock()
        self._tokens = min(self.capacity, self._tokens + (now - self._last) * self.rate)
        self._last = now
        self._tokens -= n
        return -self._tokens / self.rate if self._tokens < 0 else 0.0

    def take(self, n: float = 1.0) -> None:
        """Block until ``n`` events may go."""
        delay = self.wait_time(n)
        if delay >= self.min_sleep:
            self._sleep(delay)


# -- JSON building --------------------------------------------------------------


def _required(model: type[BaseModel]) -> list[str]:
    return [name for name, info in model.model_fields.items() if info.is_required()]


def _float_text(value: float) -> str:
    # json.dumps' float form: repr for finite values ("Infinity" otherwise, which
    # the schema then refuses by name).
    return repr(value) if math.isfinite(value) else json.dumps(value)


def _encoded_fields(name: str, column: pd.Series) -> list[str]:
    """Encode one column to ``,"name":value`` texts; missing values give ``""``.

    The common cases (no missing values, homogeneous column) map C-level
    functions over the values: no Python frame per row.
    """
    prefix = f",{_encode_str(name)}:"
    dtype = column.dtype
    missing = column.isna().to_numpy()
    values: list[Any]
    encode: Callable[[Any], str | None]
    if isinstance(dtype, pd.DatetimeTZDtype) or pd.api.types.is_datetime64_dtype(dtype):
        stamps = pd.to_datetime(column, utc=True).dt.tz_localize(None)
        values = np.datetime_as_string(
            stamps.to_numpy().astype("datetime64[us]"), unit="us"
        ).tolist()
        encode = '"{}Z"'.format
    elif pd.api.types.is_bool_dtype(dtype):
        values, encode = column.tolist(), _bool_text
    elif pd.api.types.is_integer_dtype(dtype):
        values, encode = column.tolist(), str
    elif pd.api.types.is_float_dtype(dtype):
        finite = bool(np.isfinite(column.to_numpy(dtype=float, na_value=0.0)).all())
        values, encode = column.tolist(), float.__repr__ if finite else _float_text
    elif pd.api.types.infer_dtype(column, skipna=True) == "string":
        values, encode = column.tolist(), _encode_str
    else:
        values, encode = column.tolist(), _encode_object
    if not missing.any() and encode is not _encode_object:
        return list(map(prefix.__add__, map(encode, values)))  # type: ignore[arg-type]
    out: list[str] = []
    for value, gone in zip(values, missing.tolist(), strict=True):
        text = None if gone else encode(value)
        out.append("" if text is None else prefix + text)
    return out


def _bool_text(value: object) -> str:
    return "true" if value else "false"


def _encode_object(value: object) -> str | None:
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, str):
        return _encode_str(value)
    if isinstance(value, bool):
        return _bool_text(value)
    if isinstance(value, float):
        return _float_text(value)
    if isinstance(value, datetime):
        stamp = value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
        return _encode_str(stamp.isoformat().replace("+00:00", "Z"))
    return json.dumps(value, default=str)


def _extra_item(name: str, value: object) -> str | None:
    """``"name":value`` for one passthrough cell: a finite number or text; missing: None."""
    if isinstance(value, np.generic):
        value = value.item()
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, str):
        return f"{name}:{_encode_str(value)}" if value.strip() else None
    if isinstance(value, int | float) and math.isfinite(value):
        return f"{name}:{float(value)!r}"
    return None


def _encoded_extras(frame: pd.DataFrame) -> list[str] | Iterable[str]:
    """``,"extras":{...}`` from an import's passthrough columns (``x_<name>``); missing: none.

    A numeric extra's column holds floats, a categorical one's text.
    """
    columns = [c for c in frame.columns if isinstance(c, str) and c.startswith(EXTRA_COLUMN_PREFIX)]
    if not columns:
        return itertools.repeat("")
    names = [_encode_str(c.removeprefix(EXTRA_COLUMN_PREFIX)) for c in columns]
    cells = [frame[c].tolist() for c in columns]
    out: list[str] = []
    for row in zip(*cells, strict=True):
        items = [i for i in map(_extra_item, names, row) if i is not None]
        out.append(',"extras":{' + ",".join(items) + "}" if items else "")
    return out


def encode_events(frame: pd.DataFrame, model: type[BaseModel]) -> list[str]:
    """Build one JSON object per row with ``model``'s fields only.

    An import's passthrough columns (``x_<name>``) become the transaction's
    ``extras`` object. Other extra columns are ignored; missing or null
    optional fields are omitted; naive datetimes are taken as UTC. The result parses with the schema's
    parser (``parse_transaction`` / ``parse_label``).

    Raises:
        DataError: a required field has no column.
    """
    missing = [name for name in _required(model) if name not in frame.columns]
    if missing:
        raise DataError(f"missing column(s) for {model.__name__}: {missing}")
    parts: list[Iterable[str]] = [itertools.repeat(f'{{"schema_version":{SCHEMA_VERSION}')]
    for name in model.model_fields:
        if name == "schema_version" or name not in frame.columns:
            continue
        parts.append(_encoded_fields(name, frame[name]))
    if "extras" in model.model_fields and "extras" not in frame.columns:
        parts.append(_encoded_extras(frame))
    parts.append(itertools.repeat("}"))
    return list(map("".join, zip(*parts, strict=False)))


# -- replay -----------------------------------------------------------------------


def _replay(
    frame: pd.DataFrame,
    model: type[BaseModel],
    time_column: str,
    key_column: str,
    producer: EventProducer,
    topic: str,
    rate: float | None,
    progress: Callable[[int], None] | None,
) -> ReplayResult:
    if time_column not in frame.columns or key_column not in frame.columns:
        raise DataError(f"replay needs the columns {time_column!r} and {key_column!r}")
    if not frame[time_column].is_monotonic_increasing:
        frame = frame.sort_values(time_column, kind="stable")
    bucket = TokenBucket(rate) if rate is not None else None
    send = producer.send
    started = time.perf_counter()
    events = 0
    for begin in range(0, len(frame), CHUNK_ROWS):
        chunk = frame.iloc[begin : begin + CHUNK_ROWS]
        keys = chunk[key_column].astype(str).tolist()
        for key, value in zip(keys, encode_events(chunk, model), strict=True):
            if bucket is not None:
                bucket.take()
            send(topic, key, value.encode())
        events += len(keys)
        if progress is not None:
            progress(len(keys))
    producer.flush()
    seconds = time.perf_counter() - started
    achieved = events / seconds if seconds > 0 else float("inf")
    logger.info("replayed %d events to %s in %.2f s (%.0f/s)", events, topic, seconds, achieved)
    return ReplayResult(topic=topic, events=events, seconds=seconds, rate=achieved)


def replay(
    transactions: pd.DataFrame,
    producer: EventProducer,
    topic: str,
    rate: float | None = None,
    *,
    progress: Callable[[int], None] | None = None,
) -> ReplayResult:
    """Publish transactions in ``event_time`` order, keyed by ``card_token``.

    Args:
        transactions: one row per transaction with the columns of
            ``schema.Transaction``; other columns (``is_fraud``, ...) are not published.
        producer: where to send.
        topic: destination topic.
        rate: target events per second; ``None`` sends as fast as possible.
        progress: called with the number of events sent after each chunk.

    Returns:
        Counts and the achieved rate, after every event was acknowledged.

    Raises:
        DataError: required columns are missing.
        BrokerError: some events could not be delivered.
    """
    return _replay(
        transactions, Transaction, "event_time", "card_token", producer, topic, rate, progress
    )


def replay_labels(
    labels: pd.DataFrame,
    producer: EventProducer,
    topic: str,
    rate: float | None = None,
    *,
    progress: Callable[[int], None] | None = None,
) -> ReplayResult:
    """Publish labels in ``label_time`` order, keyed by ``transaction_id``.

    Args:
        labels: one row per label with the columns of ``schema.Label``.
        producer: where to send.
        topic: destination topic (``kafka.labels_topic``).
        rate: target events per second; ``None`` sends as fast as possible.
        progress: called with the number of events sent after each chunk.

    Returns:
        Counts and the achieved rate, after every event was acknowledged.

    Raises:
        DataError: required columns are missing.
        BrokerError: some events could not be delivered.
    """
    return _replay(labels, Label, "label_time", "transaction_id", producer, topic, rate, progress)
