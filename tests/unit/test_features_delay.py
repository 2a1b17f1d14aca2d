"""One matured delay for model, feature store and settings: every mismatch is refused."""

from __future__ import annotations

import random
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from fraudlens.errors import DataError, FeatureStoreError, ModelError
from fraudlens.features.delay import (
    DELAY_KEY,
    check_model_delay,
    check_registry_delay,
    check_rows_delay,
    model_delay,
    rows_delays,
)
from fraudlens.features.fold import StateFolder
from fraudlens.features.odfv import terminal_feature_columns
from fraudlens.features.offline import ensure_offline_folders, write_table
from fraudlens.features.repo import load_definitions
from fraudlens.features.state import (
    CARD_KEY,
    STATE_TS,
    TERMINAL_KEY,
    US_PER_DAY,
    TxnEvent,
)
from fraudlens.features.transaction_rows import TXN_VIEW, rows_from_states
from fraudlens.scoring.adapters import FeastFeatures
from fraudlens.settings import FeaturesSettings, Settings

MATURED = ["txn_amount", "term_matured_fraud_rate_7d"]
T0 = 20_000 * US_PER_DAY


def test_a_model_with_another_delay_is_refused_naming_both_values() -> None:
    check_model_delay("3", {DELAY_KEY: 7}, MATURED, 7)
    with pytest.raises(ModelError, match="model 3 .* 7 days .*matured_delay_days=3"):
        check_model_delay("3", {DELAY_KEY: 7}, MATURED, 3)
    # Trained before the setting existed: the constant 7 days.
    assert model_delay({}, MATURED) == 7
    with pytest.raises(ModelError, match="MATURED_DELAY_DAYS=7"):
        check_model_delay("1", {}, MATURED, 3)
    # A model without matured features does not depend on the delay.
    assert model_delay({DELAY_KEY: 7}, ["txn_amount"]) is None
    check_model_delay("2", {DELAY_KEY: 7}, ["txn_amount", "term_fraud_rate_7d"], 3)


class _Store:
    """The few FeatureStore calls ``FeastFeatures.validate`` makes."""

    def __init__(self, tags: dict[str, str], served: list[str]) -> None:
        self.odfv = SimpleNamespace(tags=tags)
        feature = [SimpleNamespace(name=n) for n in served]
        self.service = SimpleNamespace(feature_view_projections=[SimpleNamespace(features=feature)])

    def get_on_demand_feature_view(self, name: str, allow_registry_cache: bool = False) -> Any:
        assert name == "terminal_request_features"
        return self.odfv

    def get_feature_service(self, name: str, allow_cache: bool = False) -> Any:
        return self.service

    def forget(self, name: str) -> None:
        pass


def _features(delay: int, store: _Store) -> FeastFeatures:
    features = FeastFeatures(Settings(features=FeaturesSettings(matured_delay_days=delay)))
    features._store = store
    return features


def test_serving_refuses_a_model_or_registry_with_another_delay() -> None:
    model = SimpleNamespace(
        version="5", feature_names=MATURED, feature_service="svc", metadata={DELAY_KEY: 7}
    )
    _features(7, _Store({DELAY_KEY: "7"}, MATURED)).validate(model)
    with pytest.raises(ModelError, match="model 5 was trained .* 7 days .*=3"):
        _features(3, _Store({DELAY_KEY: "3"}, MATURED)).validate(model)
    # The settings and the model agree, the Feast registry was applied with another delay.
    model.metadata = {DELAY_KEY: 3}
    with pytest.raises(ModelError, match="applied with features.matured_delay_days=7"):
        _features(3, _Store({DELAY_KEY: "7"}, MATURED)).validate(model)
    with pytest.raises(FeatureStoreError, match="applied with .*=7, the settings say 3"):
        check_registry_delay(_Store({}, MATURED), 3)  # registry from before the setting


def _rows(delay: int) -> pa.Table:
    events = [TxnEvent(f"t{i}", T0 + i, "c1", "k1", "m1", "FR", 5.0) for i in range(3)]
    result = StateFolder(120 * US_PER_DAY, matured_delay_days=delay).apply(events)
    cards = {(r[CARD_KEY], r[STATE_TS]): r for r in result.card_rows}
    terminals = {(r[TERMINAL_KEY], r[STATE_TS]): r for r in result.terminal_rows}
    return rows_from_states(
        result.transactions, cards, terminals, matured_delay_days=result.matured_delay_days
    )


def test_feature_row_files_record_their_delay_and_training_refuses_others(
    tmp_path: Path,
) -> None:
    ensure_offline_folders(tmp_path)  # the empty schema file is not a row file
    folder = tmp_path / TXN_VIEW
    write_table(tmp_path, TXN_VIEW, _rows(3), "stream")
    assert rows_delays(folder) == {3: 1}
    check_rows_delay(folder, 3)
    old = _rows(3).replace_schema_metadata(None)  # written before the setting: 7 days
    pq.write_table(old, folder / "backfill-old.parquet")
    assert rows_delays(folder) == {3: 1, 7: 1}
    with pytest.raises(DataError, match="1 file\\(s\\) with 7 days.*=3: .*backfill"):
        check_rows_delay(folder, 3)


def test_the_terminal_odfv_bakes_the_settings_delay_into_its_source(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path, features=FeaturesSettings(matured_delay_days=3))
    odfv = next(o for o in load_definitions(settings) if o.name == "terminal_request_features")
    assert odfv.tags == {DELAY_KEY: "3"}
    source = odfv.feature_transformation.udf_string
    assert "matured_delay_days=3)" in source
    # Feast runs the stored source text alone: it must give the delay-3 values.
    namespace: dict[str, Any] = {}
    exec(source, namespace)
    rng = random.Random(1)
    times = [T0 + rng.randrange(US_PER_DAY) for _ in range(20)]
    states = StateFolder(120 * US_PER_DAY, matured_delay_days=3)
    early = [
        TxnEvent(f"e{i}", T0 - rng.randrange(1, 35) * US_PER_DAY, f"c{i}", "k1", "m", "FR", 1.0)
        for i in range(40)
    ]
    row = states.apply(early).terminal_rows[-1]
    inputs = {
        **{k: [v] * len(times) for k, v in row.items()},
        "req_time_us": times,
        "req_amount": [1.0] * len(times),
    }
    got = namespace["terminal_request_features"](inputs)
    assert got == terminal_feature_columns(inputs, matured_delay_days=3)
    assert got != terminal_feature_columns(inputs, matured_delay_days=7)
