"""A scored batch written to the decision log as one table: the same columns, types and
values as its rows (``decision_row``), and the same log read back, rows and tables mixed."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from test_decision_json import RULES, _made, _scored, _txns

from fraudlens.scoring import ScoringConfig, ScoringService
from fraudlens.scoring.decision_log import (
    DecisionLog,
    _to_table,
    decision_row,
    decision_table,
    read_log,
    utc_day,
)
from fraudlens.scoring.fakes import FakeFeatures, FakeLoader, FakeModel
from fraudlens.scoring.result import FeatureRow, ScoreResult

SCORED_AT = datetime(2026, 6, 3, 15, 0, 0, 123456, tzinfo=UTC)


def _cells(column: pa.ChunkedArray) -> list[Any]:
    """Values of a column; floats as their bits (NaN payloads, -0.0 and all)."""
    if pa.types.is_floating(column.type):
        values = column.to_numpy(zero_copy_only=False)
        nulls = column.is_null().to_numpy(zero_copy_only=False)
        bits = values.view(np.uint64)
        return [None if null else int(b) for null, b in zip(nulls, bits, strict=True)]
    return column.to_pylist()


def _same_table(a: pa.Table, b: pa.Table) -> None:
    assert a.schema == b.schema
    assert a.num_rows == b.num_rows
    for name in a.column_names:
        assert _cells(a[name]) == _cells(b[name]), name


def _rows_table(results: list[ScoreResult], source: str) -> pa.Table:
    return _to_table([decision_row(r, source, SCORED_AT) for r in results])


def _across_midnight() -> list[ScoreResult]:
    """A batch whose transactions fall on two UTC days, interleaved."""
    features = FakeFeatures({})
    service = ScoringService(FakeLoader([FakeModel("1")], {"champion": "1"}), features)
    service.apply_config(ScoringConfig(rules=RULES))
    txns = [
        t.model_copy(update={"event_time": datetime(2026, 6, 3, 23, 59, tzinfo=UTC)})
        if i % 3 == 0
        else t.model_copy(update={"event_time": datetime(2026, 6, 4, 0, 1, tzinfo=UTC)})
        for i, t in enumerate(_txns())
    ]
    return service.score(txns)


@pytest.mark.parametrize("source", ["api", "stream"])
def test_a_scored_batch_is_its_rows_as_a_table(source: str) -> None:
    batches = [_scored(), _scored(down=True), _scored(down=True, fail=True), _across_midnight()]
    assert any(r.score is None for r in batches[2]) and any(r.degraded for r in batches[1])
    assert any(r.rule_hits for r in batches[0]) and any(r.reasons for r in batches[0])
    for results in batches:
        table = decision_table(results, source, SCORED_AT)
        assert table is not None
        _same_table(table, _rows_table(results, source))


def test_rows_of_a_batch_in_another_order_or_part_of_it() -> None:
    results = _scored()
    picked = results[::-3]
    table = decision_table(picked, "api", SCORED_AT)
    assert table is not None
    _same_table(table, _rows_table(picked, "api"))


def test_non_finite_features_keep_their_bits() -> None:
    values = np.array([[1.5, math.nan, math.inf], [-math.inf, -0.0, 1e16]])
    values[0, 0] = np.frombuffer(np.uint64(0x7FF8000000000123).tobytes())[0]  # NaN payload
    results = _scored()[:2]
    for i, result in enumerate(results):
        result.features = FeatureRow(("a", "b", "c"), values, i)
    table = decision_table(results, "api", SCORED_AT)
    assert table is not None
    _same_table(table, _rows_table(results, "api"))


def test_results_not_of_one_float_matrix_go_as_rows() -> None:
    assert decision_table(_made(), "api", SCORED_AT) is None  # one has a plain dict
    assert decision_table([], "api", SCORED_AT) is None
    two = _scored()[:1] + _scored()[:1]  # two batches' matrices
    assert decision_table(two, "api", SCORED_AT) is None
    ints = _scored()[:2]
    for i, result in enumerate(ints):
        result.features = FeatureRow(("a", "b"), np.array([[1, 2], [3, 4]]), i)
    assert decision_table(ints, "api", SCORED_AT) is None  # tolist() gives ints
    repeated = _scored()[:2]
    for i, result in enumerate(repeated):
        result.features = FeatureRow(("a", "a"), np.zeros((2, 2)), i)
    assert decision_table(repeated, "api", SCORED_AT) is None


def _logged(
    tmp_path: Path, batches: list[list[ScoreResult]], chunk_rows: int, **kwargs: Any
) -> Any:
    """Every row written, by day, in file order (``scored_at`` aside: the clock's)."""
    log = DecisionLog(tmp_path, "api", chunk_rows=chunk_rows, flush_s=3600, **kwargs)
    for results in batches:
        log.write(results)
    log.close()
    days = {}
    for folder in sorted(tmp_path.glob("date=*")):
        files = sorted(folder.glob("*.parquet"))
        table = pa.concat_tables([pq.read_table(f) for f in files])
        days[folder.name] = table.drop_columns(["scored_at"]).to_pandas()
    return days


def test_the_log_holds_the_same_rows_with_tables_and_rows_mixed(tmp_path: Path) -> None:
    # Small and large batches in turn, two days, degraded rows: chunk_rows=5 sends the
    # 40-row batches as tables and the 3-row ones as rows; the reference writes rows only.
    small = [_scored(down=True)[:3], _across_midnight()[5:8]]
    large = [_scored(), _across_midnight(), _scored(down=True, fail=True)]
    batches = [small[0], large[0], small[1], large[1], large[2]]
    mixed = _logged(tmp_path / "mixed", batches, chunk_rows=5)
    rows = _logged(tmp_path / "rows", batches, chunk_rows=10_000)
    assert list(mixed) == list(rows) and len(mixed) >= 2
    assert sum(len(frame) for frame in mixed.values()) == 3 + 40 + 3 + 40 + 40
    for day, frame in mixed.items():
        assert list(frame.columns) == list(rows[day].columns)
        assert (frame.dtypes == rows[day].dtypes).all()
        assert frame.equals(rows[day]), day  # same rows in the same order (NaN equal)
    assert len(read_log(tmp_path / "mixed")) == 40  # transaction ids repeat: read once


def test_a_log_by_scoring_time_puts_tables_and_rows_in_the_day_they_were_scored(
    tmp_path: Path,
) -> None:
    batches = [_across_midnight(), _across_midnight()[:3]]  # a table, then rows
    today = utc_day(datetime.now(UTC))
    logged = _logged(tmp_path, batches, chunk_rows=5, time_column="scored_at")
    if list(logged) != [f"date={today}"]:  # the test ran across midnight: once more
        today = utc_day(datetime.now(UTC))
        logged = _logged(tmp_path / "again", batches, chunk_rows=5, time_column="scored_at")
    assert list(logged) == [f"date={today}"] and len(logged[f"date={today}"]) == 43


def test_a_decision_log_refuses_another_time_column(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="event_time or scored_at, not 'latency_ms'"):
        DecisionLog(tmp_path, "api", time_column="latency_ms")


def test_the_day_of_a_row_is_its_utc_day() -> None:
    plus2 = timezone(timedelta(hours=2))
    for time in (
        datetime(2026, 6, 3, 23, 59, 59, 999999, tzinfo=UTC),
        datetime(2026, 6, 4, 1, 0, tzinfo=plus2),  # the 3rd in UTC
        datetime(2026, 12, 31, 23, 0, tzinfo=timezone(timedelta(hours=-2))),  # next year
        datetime(999, 1, 2, tzinfo=UTC),
    ):
        assert utc_day(time) == time.astimezone(UTC).strftime("%Y-%m-%d")
