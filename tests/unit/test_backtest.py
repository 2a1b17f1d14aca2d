from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from fraudlens.cli import app
from fraudlens.errors import ConfigError, DataError
from fraudlens.model import Thresholds
from fraudlens.settings import BacktestSettings, TrainingSettings
from training.backtest import check_span, fold_metrics, fold_split, overall, plan_folds
from training.card_precision import card_precision_top_k, known_compromised

DAY = pd.Timedelta(days=1)
T0 = pd.Timestamp("2026-06-01", tz="UTC")
runner = CliRunner()


def _days(rows: list[tuple[int, str, float, bool]]) -> tuple[pd.DataFrame, np.ndarray]:
    frame = pd.DataFrame(
        {
            "event_time": [
                T0 + day * DAY + pd.Timedelta(hours=i) for i, (day, *_) in enumerate(rows)
            ],
            "card_token": [card for _, card, _, _ in rows],
            "is_fraud": [fraud for *_, fraud in rows],
        }
    )
    return frame, np.array([score for _, _, score, _ in rows])


def test_card_precision_removes_cards_detected_on_earlier_days() -> None:
    frame, scores = _days(
        [
            (0, "a", 0.2, False),  # a card's score is its highest of the day
            (0, "a", 0.9, True),
            (0, "b", 0.5, False),
            (1, "a", 0.99, True),  # a was detected on day 0: left out
            (1, "b", 0.7, False),
            (1, "c", 0.6, True),
            (2, "c", 0.8, True),  # c was not detected on day 1: still counted
            (2, "b", 0.3, False),
        ]
    )
    removed = card_precision_top_k(frame, scores, 1)
    assert removed.per_day == [1.0, 0.0, 1.0]
    assert removed.detected == [1, 0, 1]
    assert removed.mean == pytest.approx(2 / 3)
    kept = card_precision_top_k(frame, scores, 1, remove_detected=False)
    assert kept.per_day == [1.0, 1.0, 1.0]
    assert [d.day for d in removed.days] == [1, 2, 3]


def test_card_precision_divides_by_k_even_with_fewer_cards() -> None:
    frame, scores = _days([(0, "a", 0.9, True), (0, "b", 0.1, False), (0, "a", 0.3, False)])
    assert card_precision_top_k(frame, scores, 5).per_day == [pytest.approx(1 / 5)]
    assert card_precision_top_k(frame, scores, 2).mean == pytest.approx(1 / 2)
    empty = card_precision_top_k(frame.iloc[:0], scores[:0], 2)
    assert empty.per_day == [] and math.isnan(empty.mean)


def test_folds_roll_back_from_the_end_by_test_blocks() -> None:
    cfg = BacktestSettings(folds=2, train_days=10, test_days=5)
    first, last = plan_folds("2026-07-31", cfg, validation_days=3, gap_days=4)
    assert last.cutoff == pd.Timestamp("2026-07-26", tz="UTC")
    assert last.end == pd.Timestamp("2026-07-31", tz="UTC")
    assert last.history_end == last.cutoff - 4 * DAY
    assert last.start == last.history_end - 10 * DAY
    assert last.valid_start == last.history_end - 3 * DAY
    assert first.end == last.cutoff and first.cutoff == last.cutoff - 5 * DAY
    assert (first.number, last.number) == (1, 2)


def test_fold_settings_that_contradict_name_the_flag() -> None:
    with pytest.raises(ConfigError, match="--train-days"):
        plan_folds("2026-07-31", BacktestSettings(train_days=7), validation_days=7, gap_days=0)
    folds = plan_folds("2026-07-31", BacktestSettings(folds=4, train_days=20), 7, 14)
    with pytest.raises(DataError, match="lower --folds"):
        check_span(
            folds, pd.Timestamp("2026-06-15", tz="UTC"), pd.Timestamp("2026-07-30", tz="UTC")
        )
    with pytest.raises(DataError, match="--to"):
        check_span(
            folds, pd.Timestamp("2026-01-01", tz="UTC"), pd.Timestamp("2026-07-01", tz="UTC")
        )


def _history(days: int = 30) -> pd.DataFrame:
    times = [T0 + i * DAY / 4 for i in range(days * 4)]
    frame = pd.DataFrame(
        {"event_time": times, "transaction_id": [f"t{i}" for i in range(len(times))]}
    )
    frame["is_fraud"] = frame.index % 5 == 0
    frame["label_time"] = frame["event_time"].where(frame["is_fraud"]) + 2 * DAY
    return frame


@pytest.mark.parametrize("policy", ["unknown", "legit"])
def test_a_fold_trains_only_on_labels_arrived_by_its_cutoff(policy: str) -> None:
    frame = _history()
    (fold,) = plan_folds(T0 + 30 * DAY, BacktestSettings(folds=1, train_days=10, test_days=5), 3, 1)
    slow = 60  # a fraud inside the history whose label comes after the cut-off
    frame.loc[slow, "label_time"] = fold.cutoff + DAY
    assert fold.start <= frame.loc[slow, "event_time"] < fold.history_end
    parts = fold_split(frame, fold, TrainingSettings(late_labels=policy))
    seen = pd.concat([parts.train, parts.valid])
    # Labels 2 days after the transaction, gap 1 day: the last day's frauds are late too.
    late = frame["is_fraud"] & (frame["label_time"] > fold.cutoff)
    late &= (frame["event_time"] >= fold.start) & (frame["event_time"] < fold.history_end)
    assert parts.late_label_rows == late.sum() > 1
    assert not seen[seen["transaction_id"].isin(frame.loc[late, "transaction_id"])][
        "is_fraud"
    ].any()
    assert (seen["label_time"][seen["is_fraud"]] <= fold.cutoff).all()
    assert len(seen) == (10 * 4 if policy == "legit" else 10 * 4 - late.sum())
    assert parts.valid["event_time"].min() == fold.valid_start
    assert parts.gap_rows == 4
    # The test block keeps every label, judged after the fact.
    assert parts.test["is_fraud"].sum() == 5 * 4 / 5


def test_a_fold_without_known_fraud_says_which_period() -> None:
    frame = _history()
    frame["is_fraud"] &= frame["event_time"] >= T0 + 21 * DAY  # the validation days on
    (fold,) = plan_folds(T0 + 30 * DAY, BacktestSettings(folds=1, train_days=10, test_days=5), 3, 1)
    with pytest.raises(DataError, match="fold 1: the train period has no known fraud"):
        fold_split(frame, fold, TrainingSettings())


def test_money_caught_is_the_fraud_amount_at_or_above_the_review_threshold() -> None:
    frame, scores = _days(
        [(0, "a", 0.9, True), (0, "b", 0.6, False), (0, "c", 0.5, True), (1, "d", 0.2, True)]
    )
    frame["amount"] = [100.0, 7.0, 30.0, 70.0]
    frame["fraud_scenario"] = ["x", None, "y", "x"]
    cfg = TrainingSettings(cards_per_day=1, review_cost=1.0)
    out = fold_metrics(frame, scores, Thresholds(review=0.5, decline=0.95), cfg)
    m = out["metrics"]
    assert (m["fraud_amount"], m["fraud_amount_caught"]) == (200.0, 130.0)
    assert m["money_caught_share"] == pytest.approx(0.65)
    assert m["alerts"] == 3 and m["recall_at_review"] == pytest.approx(2 / 3)
    # Day 0: top card a is fraud; day 1: d is the only card and a fraud.
    assert m["card_precision_at_k"] == 1.0
    by_name = {row["scenario"]: row for row in out["scenarios"]}
    assert by_name["x"]["fraud_amount_caught"] == 100.0 and by_name["y"]["frauds"] == 1

    total = overall([out, out])
    assert total["fraud_amount"] == 400.0 and total["money_caught_share"] == pytest.approx(0.65)
    assert total["mean"]["average_precision"] == m["average_precision"]
    assert total["std"]["average_precision"] == 0.0
    pooled = {row["scenario"]: row for row in total["scenarios"]}
    assert pooled["x"]["frauds"] == 4 and pooled["x"]["recall_at_review"] == 0.5


@pytest.mark.parametrize(
    ("args", "flag"),
    [
        (["--folds", "0"], "--folds"),
        (["--test-days", "0"], "--test-days"),
        (["--gap-days", "-1"], "--gap-days"),
        (["--to", "31/07/2026"], "--to"),
        (["--train-days", "5"], "--train-days"),
    ],
)
def test_bad_backtest_flags_name_the_flag(
    args: list[str], flag: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FRAUDLENS_DATA_DIR", str(tmp_path))
    result = runner.invoke(app, ["backtest", *args])
    assert result.exit_code in (1, 2), result.output
    assert flag in result.output


def test_train_refuses_a_negative_number_of_search_trials() -> None:
    args = ["train", "--from", "2026-06-01", "--to", "2026-07-01", "--search-trials", "-1"]
    result = runner.invoke(app, args)
    assert result.exit_code == 2 and "--search-trials" in result.output


def test_card_precision_leaves_out_cards_whose_fraud_label_had_arrived() -> None:
    frame, scores = _days(
        [
            (0, "a", 0.9, True),  # a's label arrives during day 0: counted on day 0 only
            (0, "b", 0.5, False),
            (1, "a", 0.99, True),
            (1, "b", 0.7, False),
            (2, "c", 0.8, True),  # c's label arrives on day 2 at noon: still counted that day
        ]
    )
    t = frame["event_time"]
    arrived = {0: t[0] + pd.Timedelta(hours=1), 4: t[4].floor("D") + pd.Timedelta(hours=12)}
    frame["label_time"] = pd.Series(arrived, index=frame.index, dtype=t.dtype)
    known = known_compromised(frame)
    assert sorted(known.index) == ["a", "c"]
    out = card_precision_top_k(frame, scores, 1, remove_detected=False, known=known)
    # Without the label a would top day 1 again; with it, b (legitimate) is the top card.
    assert out.per_day == [1.0, 0.0, 1.0]
    assert card_precision_top_k(frame, scores, 1, remove_detected=False).per_day == [1.0] * 3
