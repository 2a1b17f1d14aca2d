"""Setup of the serving benchmark: online store, champion model and request bodies.

A simulated history fills a Redis online store through Feast, and an ensemble
the size training produces (XGBoost, 200 trees of depth 6, plus the 64-32 MLP)
is registered in MLflow as the champion.
"""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from fraudlens.settings import FeastSettings, ServeSettings, Settings


def prepare(data_dir: Path, redis_url: str, customers: int, days: int) -> tuple[Settings, Any]:
    """Simulate, fill the online store and register a champion; returns settings and the sim."""
    from fraudlens.features.fold import StateFolder
    from fraudlens.features.repo import apply, offline_path
    from fraudlens.features.sink import FeastSink
    from fraudlens.features.store import open_store
    from fraudlens.features.stream import to_event
    from fraudlens.kafka import free_port
    from fraudlens.schema import Label, Transaction
    from fraudlens.security.tokenize import tokenizer_from_settings
    from fraudlens.simulator import SimulatorConfig, simulate
    from fraudlens.simulator.core import label_records, transaction_records

    settings = Settings(
        data_dir=data_dir,
        feast=FeastSettings(
            online_store="redis", redis_connection_string=redis_url, project="fl_bench"
        ),
        # A generous feature budget: the benchmark measures the full path; any
        # degraded answer is still counted and printed.
        serve=ServeSettings(
            port=free_port(), shadow=False, model_poll_s=0, num_cpus=0.5, feature_timeout_ms=2000
        ),
    )
    config = SimulatorConfig(
        customers=customers, terminals=max(100, customers // 3), days=days,
        start_date=date(2026, 6, 1), seed=3, fraud_rate=0.01,
    )  # fmt: skip
    sim = simulate(config, tokenizer_from_settings(settings))
    apply(settings)
    events = [
        to_event(Transaction.model_validate(r)) for r in transaction_records(sim.transactions)
    ]
    events += [to_event(Label.model_validate(r)) for r in label_records(sim.labels)]
    result = StateFolder(
        settings.feast.max_label_delay_days * 86_400 * 10**6,
        matured_delay_days=settings.features.matured_delay_days,
    ).apply(events)
    FeastSink(open_store(settings), offline_path(settings), "bench").write(result)
    register_champion(settings, sim.transactions)
    return settings, sim


def register_champion(settings: Settings, transactions: pd.DataFrame) -> str:
    """Train an ensemble of production size in-process and register it as ``champion``."""
    import warnings

    import torch
    import xgboost as xgb

    from fraudlens.features.registry import FEATURE_NAMES
    from fraudlens.features.store import DEFAULT_SERVICE
    from fraudlens.model import FraudModel, MlpMember, Thresholds, mlflow_client
    from fraudlens.model.mlp import FraudMLP, fit_scaler
    from training.local_features import compute_features
    from training.register import register

    names = list(FEATURE_NAMES)
    x = compute_features(transactions)[names].to_numpy(dtype=np.float32)
    y = transactions["is_fraud"].to_numpy(dtype=np.float32)
    params = {"objective": "binary:logistic", "max_depth": 6, "eta": 0.1, "nthread": 2}
    booster = xgb.train(params, xgb.DMatrix(x, label=y, feature_names=names), 200)
    torch.manual_seed(0)
    mean, std = fit_scaler(x)
    mlp = MlpMember(FraudMLP(len(names), [64, 32]), [64, 32], mean, std)
    model = FraudModel(
        booster, mlp, 0.8, (1.0, 0.0), names, DEFAULT_SERVICE, Thresholds(review=0.5, decline=0.9)
    )
    scores = model.predict(pd.DataFrame(x, columns=names))
    review, decline = np.quantile(scores, [0.98, 0.998])
    model.thresholds = Thresholds(review=float(review), decline=float(max(review, decline)))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        registered = register(
            settings, model, run_name="bench-serving", params={}, metrics={},
            lineage={}, plots=[], tables={},
        )  # fmt: skip
    mlflow_client(settings).set_registered_model_alias(
        settings.mlflow.model_name, "champion", registered.version
    )
    return registered.version


def request_bodies(sim: Any, n: int) -> list[str]:
    """JSON bodies of the last ``n`` simulated transactions."""
    from fraudlens.simulator.core import transaction_records

    bodies = []
    for record in transaction_records(sim.transactions.tail(n)):
        body = {k: v for k, v in record.items() if v is not None}
        body["event_time"] = record["event_time"].isoformat()
        bodies.append(json.dumps(body))
    return bodies
