"""Drift monitoring and the retraining loop.

decisions (Parquet log or the records database) + champion reference -> detectors (alibi or scipy backend)
-> DriftReport (Prometheus gauges, HTML report) -> RetrainLoop (persistence,
matured-label performance, cooldown) -> launcher -> train -> promotion gate.
"""

from __future__ import annotations

from drift.detectors import (
    DriftDetector,
    FeatureDrift,
    MmdResult,
    OnlineResult,
    TabularResult,
    build_detector,
)
from drift.label_metrics import LabelPerformance, evaluate_labels, label_performance
from drift.launchers import (
    InlineLauncher,
    JobResult,
    Launcher,
    RayJobLauncher,
    RayTaskLauncher,
    make_launcher,
    retrain_and_promote,
)
from drift.metrics import DriftMetrics
from drift.monitor import DriftMonitor, Window, check_drift, read_window
from drift.reference import Reference, load_reference, reference_from_model
from drift.report import DriftReport
from drift.sources import DecisionSource, ParquetSource, RecordsSource, decision_source
from drift.trigger import RetrainLoop, Verdict
from drift.watch import watch

__all__ = [
    "DecisionSource",
    "DriftDetector",
    "DriftMetrics",
    "DriftMonitor",
    "DriftReport",
    "FeatureDrift",
    "InlineLauncher",
    "JobResult",
    "LabelPerformance",
    "Launcher",
    "MmdResult",
    "OnlineResult",
    "ParquetSource",
    "RayJobLauncher",
    "RayTaskLauncher",
    "RecordsSource",
    "Reference",
    "RetrainLoop",
    "TabularResult",
    "Verdict",
    "Window",
    "build_detector",
    "check_drift",
    "decision_source",
    "evaluate_labels",
    "label_performance",
    "load_reference",
    "make_launcher",
    "read_window",
    "reference_from_model",
    "retrain_and_promote",
    "watch",
]
