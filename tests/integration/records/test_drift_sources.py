"""The drift monitor and the label joins read the same records from Parquet and PostgreSQL.

One day of decisions (some degraded, some without a score, some the day
before) and their labels are written to both places: the Parquet decision log
and label store of a laptop, and the records database the sink fills (with
the feature vectors of half the decisions, sampled by decision id). Both
sources must give the same window, the same labels and the same matured-label
metrics; the drift check on PostgreSQL tests the sampled decisions' features
and score, or the score only when too few vectors were sampled.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pandas as pd
import pytest
from records_data import decision_records
from sqlalchemy import Engine

from drift.label_metrics import evaluate_labels
from drift.monitor import DriftMonitor, Window, read_window
from drift.reference import Reference
from drift.sources import (
    ParquetSource,
    RecordsSource,
    decision_source,
    decisions_dir,
    labels_dir,
)
from drift.synthetic import decision_rows, synthetic_rows
from fraudlens.errors import ConfigError
from fraudlens.records import LabelRecord, add_labels, upsert_decisions
from fraudlens.scoring.decision_log import FEATURE_PREFIX, ParquetLog
from fraudlens.scoring.feature_sample import feature_sampled
from fraudlens.settings import Settings

pytestmark = pytest.mark.integration

COLUMNS = {"amount": "float64", "count_1d": "int64", "is_night": "int64", "km": "float64"}
DAY = pd.Timestamp("2026-07-10", tz="UTC")
WINDOW = Window(DAY.to_pydatetime(), (DAY + timedelta(days=1)).to_pydatetime())
AS_OF = (DAY + timedelta(days=9)).to_pydatetime()  # DAY's labels have matured (7 + 1 days)
RATE = 0.5  # share of decisions whose feature vector reaches PostgreSQL


def _rows() -> pd.DataFrame:
    """1,200 decisions on DAY (scores and amounts shifted) and 100 the day before."""
    shifted = synthetic_rows(1200, seed=2, columns=COLUMNS, shift={"amount": 0.6, "score": 3.0})
    day = decision_rows(shifted, "5", DAY, seconds=86_399, id_prefix="d-")
    before = decision_rows(
        synthetic_rows(100, seed=3, columns=COLUMNS), "5", DAY - timedelta(days=1), 3600, "b-"
    )
    rows = pd.concat([day, before], ignore_index=True)
    rows["event_time"] = rows["event_time"].dt.floor("us")  # what both stores keep
    rows.loc[:9, "degraded"] = True
    rows.loc[10:14, "score"] = None
    rows["decision_id"] = "dec-" + rows["transaction_id"]
    rows["card_token"] = "tok_" + (rows.index % 50).astype(str)
    rows["decision"] = "approve"
    rows["source"] = "api"
    rows["scored_at"] = rows["event_time"]
    return rows


def _labels(rows: pd.DataFrame) -> list[LabelRecord]:
    """Frauds among the highest scores of DAY, known before AS_OF; five only after it."""
    ranked = rows.loc[rows["transaction_id"].str.startswith("d-")].nlargest(45, "score")
    known, late = AS_OF - timedelta(days=1), AS_OF + timedelta(hours=1)
    return [
        LabelRecord(tx, True, known if i < 40 else late, "chargeback")
        for i, tx in enumerate(ranked["transaction_id"])
    ]


def _write_parquet(settings: Settings, rows: pd.DataFrame, labels: list[LabelRecord]) -> None:
    log = ParquetLog(decisions_dir(settings), "api", flush_rows=10**9)
    log.append(rows.rename(columns={c: FEATURE_PREFIX + c for c in COLUMNS}).to_dict("records"))
    log.flush()
    folder = labels_dir(settings)
    folder.mkdir(parents=True)
    frame = pd.DataFrame(
        {
            "transaction_id": [r.transaction_id for r in labels],
            "is_fraud": [r.is_fraud for r in labels],
            "label_time": [r.label_time for r in labels],
        }
    )
    frame.to_parquet(folder / "labels-0.parquet")


def _write_records(engine: Engine, rows: pd.DataFrame, labels: list[LabelRecord]) -> None:
    with engine.begin() as conn:
        upsert_decisions(conn, decision_records(rows, list(COLUMNS), RATE))
        add_labels(conn, labels)


@pytest.fixture(scope="module")
def stores(
    records_engine: Engine, tmp_path_factory: pytest.TempPathFactory
) -> tuple[Settings, ParquetSource, RecordsSource]:
    settings = Settings(
        data_dir=tmp_path_factory.mktemp("sources"),
        drift={
            "backend": "scipy",
            "min_window_rows": 200,
            "min_window_days": 0.0,
            "mmd": False,
            "online": False,
            "min_labelled_frauds": 10,
        },
        training={"label_delay_days": 7},
    )
    rows = _rows()
    labels = _labels(rows)
    _write_parquet(settings, rows, labels)
    _write_records(records_engine, rows, labels)
    return settings, ParquetSource(settings), RecordsSource(records_engine)


def _ids(frame: pd.DataFrame) -> set[str]:
    return set(frame["decision_id"])


def test_both_sources_give_the_same_window(
    stores: tuple[Settings, ParquetSource, RecordsSource],
) -> None:
    _, parquet, records = stores
    start, end = WINDOW.start, WINDOW.end
    every = parquet.decisions(start, end)
    assert len(every) == 1200 and _ids(every) == _ids(records.decisions(start, end))
    scored = records.decisions(start, end, scored_only=True)
    assert len(scored) == 1185 and _ids(scored) == _ids(
        parquet.decisions(start, end, scored_only=True)
    )
    by_id = parquet.decisions(start, end, scored_only=True).set_index("decision_id")["score"]
    pd.testing.assert_series_equal(
        scored.set_index("decision_id")["score"].sort_index(),
        by_id.sort_index(),
        check_names=False,
    )
    assert str(scored["event_time"].dt.tz) == "UTC" and scored["event_time"].min() >= DAY
    sample = records.decisions(start, end, scored_only=True, at_most=300)
    assert len(sample) == 300 and _ids(sample) == _ids(
        records.decisions(start, end, scored_only=True, at_most=300)
    )
    hours = sample["event_time"].dt.hour
    assert hours.min() <= 2 and hours.max() >= 21  # spread over the day, not its first rows


def test_the_records_source_gives_the_sampled_decisions_with_their_features(
    stores: tuple[Settings, ParquetSource, RecordsSource],
) -> None:
    _, parquet, records = stores
    start, end = WINDOW.start, WINDOW.end
    scored = parquet.decisions(start, end, scored_only=True).set_index("decision_id")
    sampled = {i for i in scored.index if feature_sampled(i, RATE)}
    assert 500 < len(sampled) < 700  # about half of 1,185
    with_features = records.decisions(start, end, scored_only=True, features=True)
    assert _ids(with_features) == sampled
    named = [FEATURE_PREFIX + c for c in COLUMNS]
    got = with_features.set_index("decision_id").sort_index()
    pd.testing.assert_frame_equal(
        got[named], scored.loc[sorted(sampled), named].astype("float64"), check_names=False
    )
    # a sample of the window comes from the decisions with a vector first
    few = records.decisions(start, end, scored_only=True, at_most=300, features=True)
    assert len(few) == 300 and _ids(few) <= sampled and few[named].notna().all().all()


def test_both_sources_give_the_same_labels_and_metrics(
    stores: tuple[Settings, ParquetSource, RecordsSource],
) -> None:
    settings, parquet, records = stores
    start, end = WINDOW.start, WINDOW.end
    from_pg = records.labels(start, end, AS_OF)
    from_files = parquet.labels(start, end, AS_OF)
    assert len(from_pg) == 40 and set(from_pg["transaction_id"]) == set(
        from_files["transaction_id"]
    )
    perf_pg = evaluate_labels(settings, AS_OF, source=records)
    perf_files = evaluate_labels(settings, AS_OF, source=parquet)
    assert perf_pg == perf_files
    # the matured week holds both days; degraded decisions with a score count
    assert perf_pg.rows == 1295 and perf_pg.frauds == 40 and perf_pg.sufficient
    assert perf_pg.average_precision == pytest.approx(1.0)  # the frauds are the top scores


def test_drift_check_on_postgresql_tests_the_sampled_features(
    stores: tuple[Settings, ParquetSource, RecordsSource],
) -> None:
    settings, parquet, records = stores
    reference = Reference("5", list(COLUMNS), synthetic_rows(1500, seed=11, columns=COLUMNS))
    on_files = DriftMonitor(settings, source=parquet).check_frame(
        read_window(settings, WINDOW, parquet), reference, WINDOW
    )
    assert on_files.status == "drift" and {"amount", "score"} <= set(on_files.moved)
    on_pg = DriftMonitor(settings, source=records).check_frame(
        read_window(settings, WINDOW, records), reference, WINDOW
    )
    sampled = read_window(settings, WINDOW, records)["decision_id"]
    assert all(feature_sampled(i, RATE) for i in sampled) and 500 < on_pg.rows < 700
    assert on_pg.status == "drift" and {"amount", "score"} <= set(on_pg.moved)
    assert {"count_1d", "is_night", "km"}.isdisjoint(on_pg.moved)  # unshifted: not flagged
    assert not any("not in the decisions read" in n for n in on_pg.notes)


def test_too_few_sampled_vectors_give_a_score_only_check(
    records_engine: Engine, stores: tuple[Settings, ParquetSource, RecordsSource]
) -> None:
    settings, _, _ = stores
    reference = Reference("5", list(COLUMNS), synthetic_rows(1500, seed=11, columns=COLUMNS))
    sparse = RecordsSource(records_engine, min_feature_rows=1000)  # ~600 sampled in WINDOW
    frame = read_window(settings, WINDOW, sparse)
    assert len(frame) == 1185 and "amount" not in frame.columns
    on_pg = DriftMonitor(settings, source=sparse).check_frame(frame, reference, WINDOW)
    assert on_pg.status == "drift" and on_pg.moved == ["score"] and on_pg.rows == 1185
    assert any("not in the decisions read" in n and "amount" in n for n in on_pg.notes)


def test_the_setting_picks_the_source(records_engine: Engine, tmp_path: Path) -> None:
    def pick(**values: object) -> object:
        return decision_source(
            Settings.model_validate({"data_dir": tmp_path, **values}), records_engine
        )

    assert isinstance(pick(), ParquetSource)
    assert isinstance(pick(records={"decision_sink": "both"}), ParquetSource)
    assert isinstance(pick(records={"decision_sink": "kafka"}), RecordsSource)
    assert isinstance(
        pick(records={"decision_sink": "kafka"}, drift={"source": "parquet"}), ParquetSource
    )
    chosen = pick(drift={"source": "records", "min_window_rows": 321})
    assert isinstance(chosen, RecordsSource) and chosen.min_feature_rows == 321
    with pytest.raises(ConfigError, match="drift.source"):
        decision_source(Settings(data_dir=tmp_path, drift={"source": "records"}))
