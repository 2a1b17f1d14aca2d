"""Prometheus metrics of the drift monitor, label-based performance and retraining.

Registered in a registry the caller owns (a fresh one by default), exposed by
``fraudlens drift watch`` on ``drift.metrics_port`` or pushed to a Pushgateway
after a one-shot check. Alert rules and dashboards in ``monitoring/`` use
these names.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge

PREFIX = "fraudlens_drift"


class DriftMetrics:
    """Every metric the ``drift`` package exports."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry if registry is not None else CollectorRegistry()
        r = self.registry
        # --- drift checks
        self.p_value = Gauge(
            f"{PREFIX}_feature_p_value",
            "Uncorrected p-value of the last test per column (KS or chi-squared)",
            ["feature", "test"],
            registry=r,
        )
        self.statistic = Gauge(
            f"{PREFIX}_feature_statistic", "Test statistic per column", ["feature"], registry=r
        )
        self.psi = Gauge(
            f"{PREFIX}_feature_psi",
            "Population stability index per column",
            ["feature"],
            registry=r,
        )
        self.moved = Gauge(
            f"{PREFIX}_feature_drifted",
            "1 if the column moved in the last check (after correction)",
            ["feature"],
            registry=r,
        )
        self.detected = Gauge(f"{PREFIX}_detected", "1 if the last check found drift", registry=r)
        self.features_drifted = Gauge(
            f"{PREFIX}_features_drifted", "Columns that moved in the last check", registry=r
        )
        self.features_tested = Gauge(
            f"{PREFIX}_features_tested", "Columns tested in the last check", registry=r
        )
        self.threshold = Gauge(
            f"{PREFIX}_p_value_threshold", "Per-test p-value threshold after correction", registry=r
        )
        self.mmd_p_value = Gauge(f"{PREFIX}_mmd_p_value", "p-value of the MMD test", registry=r)
        self.mmd_statistic = Gauge(f"{PREFIX}_mmd_statistic", "MMD^2 estimate", registry=r)
        self.online_detected = Gauge(
            f"{PREFIX}_score_online_detected",
            "1 if the online detector flagged the score stream in the last window",
            registry=r,
        )
        self.online_position = Gauge(
            f"{PREFIX}_score_online_detection_position",
            "Scores replayed before the online alarm (0: none)",
            registry=r,
        )
        self.window_rows = Gauge(f"{PREFIX}_window_rows", "Rows in the checked window", registry=r)
        self.consecutive = Gauge(
            f"{PREFIX}_consecutive_checks", "Consecutive checks that found drift", registry=r
        )
        self.last_check = Gauge(
            f"{PREFIX}_last_check_timestamp_seconds", "When the last check finished", registry=r
        )
        self.duration = Gauge(
            f"{PREFIX}_check_duration_seconds", "Duration of the last check", registry=r
        )
        self.checks = Counter(f"{PREFIX}_checks", "Drift checks by result", ["result"], registry=r)
        # --- label-based performance (matured labels)
        self.average_precision = Gauge(
            "fraudlens_label_average_precision",
            "Average precision on matured labels",
            ["model_version"],
            registry=r,
        )
        self.average_precision_upper = Gauge(
            "fraudlens_label_average_precision_upper",
            "Upper confidence bound of matured-label AP (drift.ap_confidence)",
            ["model_version"],
            registry=r,
        )
        self.precision_at_budget = Gauge(
            "fraudlens_label_precision_at_budget",
            "Precision of the top alert-budget share on matured labels",
            ["model_version"],
            registry=r,
        )
        self.recall_at_budget = Gauge(
            "fraudlens_label_recall_at_budget",
            "Recall of the top alert-budget share on matured labels",
            ["model_version"],
            registry=r,
        )
        self.baseline_ap = Gauge(
            "fraudlens_label_baseline_average_precision",
            "Average precision the current champion is judged against",
            ["model_version"],
            registry=r,
        )
        self.labelled_frauds = Gauge(
            "fraudlens_label_matured_frauds", "Matured fraud labels in the evaluation", registry=r
        )
        self.labelled_rows = Gauge(
            "fraudlens_label_matured_transactions", "Matured transactions evaluated", registry=r
        )
        # --- retraining loop
        self.triggers = Counter(
            "fraudlens_retrain_triggers", "Retraining jobs launched", ["reason"], registry=r
        )
        self.suppressed = Counter(
            "fraudlens_retrain_suppressed",
            "Retraining wanted but not launched",
            ["reason"],
            registry=r,
        )
        self.outcomes = Counter(
            "fraudlens_retrain_outcomes",
            "Finished retraining jobs by outcome (promoted, refused, failed)",
            ["outcome"],
            registry=r,
        )
        self.running = Gauge("fraudlens_retrain_running", "1 while a retraining runs", registry=r)
        self.last_trigger = Gauge(
            "fraudlens_retrain_last_trigger_timestamp_seconds",
            "When retraining was last launched",
            registry=r,
        )
