"""Writes the provisioned Grafana dashboards (dashboards/*.json) from compact panel lists.

Run from the repository root after editing: ``.venv/bin/python monitoring/grafana/generate.py``.
tests/unit/test_monitoring.py checks every panel's PromQL with promtool.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

DS = {"type": "prometheus", "uid": "fraudlens-prometheus"}
R = "$__rate_interval"

# (title, kind, unit, [(expr, legend)], width)
Panel = tuple[str, str, str, list[tuple[str, str]], int]

DASHBOARDS: dict[str, tuple[str, list[Panel]]] = {
    "service-health": (
        "FraudLens / Service health",
        [
            ("Requests per second", "timeseries", "reqps",
             [(f"sum by (status) (rate(fraudlens_requests_total[{R}]))", "{{status}}")], 12),
            ("5xx error ratio", "stat", "percentunit",
             [("fraudlens:request_errors:ratio_rate5m", "5xx")], 6),
            ("Degraded decisions", "stat", "percentunit",
             [("fraudlens:degraded:ratio_rate15m", "degraded")], 6),
            ("Latency p50 / p99", "timeseries", "s",
             [(f"histogram_quantile(0.5, sum by (le) (rate(fraudlens_request_latency_seconds_bucket[{R}])))", "p50"),
              (f"histogram_quantile(0.99, sum by (le) (rate(fraudlens_request_latency_seconds_bucket[{R}])))", "p99")], 12),
            ("Latency SLO burn rate (budget 1 % over 100 ms)", "timeseries", "none",
             [("fraudlens:latency_slo_errors:ratio_rate5m / 0.01", "5m"),
              ("fraudlens:latency_slo_errors:ratio_rate1h / 0.01", "1h"),
              ("fraudlens:latency_slo_errors:ratio_rate6h / 0.01", "6h")], 12),
            ("Decisions by outcome", "timeseries", "ops",
             [("fraudlens:decisions:rate5m", "{{decision}}")], 12),
            ("Rule hits", "timeseries", "ops",
             [(f"sum by (rule) (rate(fraudlens_rule_hits_total[{R}]))", "{{rule}}")], 12),
            ("Served model version", "table", "none",
             [("max by (version, alias) (fraudlens_model_info)", "{{version}}")], 8),
            ("Ray Serve requests by deployment", "timeseries", "reqps",
             [(f"sum by (deployment) (rate(ray_serve_deployment_request_counter_total[{R}]))", "{{deployment}}")], 8),
            ("Ray Serve healthy replicas", "stat", "none",
             [("sum by (deployment) (ray_serve_deployment_replica_healthy)", "{{deployment}}")], 8),
        ],
    ),
    "model-performance": (
        "FraudLens / Model performance",
        [
            ("Matured-label average precision vs baseline", "timeseries", "none",
             [("fraudlens_label_average_precision", "AP v{{model_version}}"),
              ("fraudlens_label_average_precision_upper", "upper bound v{{model_version}}"),
              ("fraudlens_label_baseline_average_precision", "baseline v{{model_version}}")], 12),
            ("Precision / recall at the alert budget", "timeseries", "percentunit",
             [("fraudlens_label_precision_at_budget", "precision v{{model_version}}"),
              ("fraudlens_label_recall_at_budget", "recall v{{model_version}}")], 12),
            ("Matured frauds evaluated", "stat", "none",
             [("fraudlens_label_matured_frauds", "frauds")], 6),
            ("Flagged share (review + decline), 1h", "timeseries", "percentunit",
             [("fraudlens:flagged:ratio_rate1h", "flagged"),
              ("avg_over_time(fraudlens:flagged:ratio_rate1h[7d])", "7-day average")], 18),
            ("Score distribution", "heatmap", "none",
             [(f"sum by (le) (rate(fraudlens_score_bucket[{R}]))", "{{le}}")], 12),
            ("Challenger disagreement rate (shadow)", "timeseries", "percentunit",
             [(f"sum(rate(fraudlens_shadow_disagreements_total[{R}])) / clamp_min(sum(rate(fraudlens_shadow_comparisons_total[{R}])), 1e-9)", "disagreement")], 12),
            ("Served model version", "table", "none",
             [("max by (version, alias) (fraudlens_model_info)", "{{version}}")], 12),
            ("Retraining outcomes (7d)", "bargauge", "none",
             [("sum by (outcome) (increase(fraudlens_retrain_outcomes_total[7d]))", "{{outcome}}")], 12),
        ],
    ),
    "drift": (
        "FraudLens / Drift",
        [
            ("Drift detected", "stat", "none", [("fraudlens_drift_detected", "drift")], 4),
            ("Columns moved", "stat", "none",
             [("fraudlens_drift_features_drifted", "moved"),
              ("fraudlens_drift_features_tested", "tested")], 5),
            ("Consecutive drifted checks", "stat", "none",
             [("fraudlens_drift_consecutive_checks", "checks")], 5),
            ("Since last check", "stat", "s",
             [("time() - fraudlens_drift_last_check_timestamp_seconds", "age")], 5),
            ("Rows checked", "stat", "none", [("fraudlens_drift_window_rows", "rows")], 5),
            ("Lowest p-values (10 columns)", "bargauge", "none",
             [("bottomk(10, fraudlens_drift_feature_p_value)", "{{feature}}"),
              ("fraudlens_drift_p_value_threshold", "threshold")], 12),
            ("Highest PSI (10 columns)", "bargauge", "none",
             [("topk(10, fraudlens_drift_feature_psi)", "{{feature}}")], 12),
            ("Columns that moved", "table", "none",
             [("fraudlens_drift_feature_drifted == 1", "{{feature}}")], 8),
            ("MMD p-value", "timeseries", "none",
             [("fraudlens_drift_mmd_p_value", "MMD p"), ("fraudlens_drift_mmd_statistic", "MMD^2")], 8),
            ("Score stream online detector", "timeseries", "none",
             [("fraudlens_drift_score_online_detected", "alarm"),
              ("fraudlens_drift_score_online_detection_position", "position")], 8),
            ("Retraining triggers / suppressed", "timeseries", "none",
             [("sum by (reason) (increase(fraudlens_retrain_triggers_total[1d]))", "trigger {{reason}}"),
              ("sum by (reason) (increase(fraudlens_retrain_suppressed_total[1d]))", "suppressed {{reason}}")], 12),
            ("Drift checks by result", "timeseries", "none",
             [("sum by (result) (increase(fraudlens_drift_checks_total[1d]))", "{{result}}")], 12),
        ],
    ),
    "stream-pipeline": (
        "FraudLens / Stream pipeline",
        [
            ("Events per second", "timeseries", "ops",
             [(f"sum by (topic) (rate(fraudlens_features_events_total[{R}]))", "{{topic}}"),
              ("sum(fraudlens_features_events_per_second)", "applied")], 12),
            ("Consumer lag by partition", "timeseries", "none",
             [("sum by (topic, partition) (fraudlens_features_consumer_lag)", "{{topic}}/{{partition}}")], 12),
            ("Watermark lag", "timeseries", "s",
             [("max(fraudlens_features_watermark_lag_seconds)", "lag")], 8),
            ("Micro-batch time p95", "timeseries", "s",
             [(f"histogram_quantile(0.95, sum by (le) (rate(fraudlens_features_batch_seconds_bucket[{R}])))", "p95")], 8),
            ("Events waiting for the watermark", "timeseries", "none",
             [("sum(fraudlens_features_buffered_events)", "buffered")], 8),
            ("Dead letters / late events / duplicates", "timeseries", "ops",
             [(f"sum by (topic) (rate(fraudlens_features_dead_letters_total[{R}]))", "dead {{topic}}"),
              (f"sum(rate(fraudlens_features_late_events_total[{R}]))", "late"),
              (f"sum(rate(fraudlens_features_duplicate_transactions_total[{R}]))", "duplicates")], 12),
            ("Rows pushed to the online / offline store", "timeseries", "ops",
             [(f"sum by (view) (rate(fraudlens_features_rows_pushed_total[{R}]))", "online {{view}}"),
              (f"sum by (view) (rate(fraudlens_features_rows_offline_total[{R}]))", "offline {{view}}")], 12),
            ("Feature age read by scoring (p50 / p95)", "timeseries", "s",
             [("fraudlens:feature_age_seconds:p50_15m", "p50"),
              (f"histogram_quantile(0.95, sum by (le) (rate(fraudlens_feature_age_seconds_bucket[{R}])))", "p95")], 12),
            ("Stream scorer: transactions scored per second", "timeseries", "ops",
             [(f"sum(rate(fraudlens_stream_scored_total[{R}]))", "scored")], 12),
            ("Stream scorer: event-time lag / micro-batch p95", "timeseries", "s",
             [("max(fraudlens_stream_lag_seconds)", "lag"),
              (f"histogram_quantile(0.95, sum by (le) (rate(fraudlens_stream_batch_seconds_bucket[{R}])))", "batch p95")], 12),
        ],
    ),
    # Read from PostgreSQL by every API replica: max() picks one copy of the figure.
    "analyst-workspace": (
        "FraudLens / Analyst workspace",
        [
            ("Review queue by status", "timeseries", "none",
             [("max by (status) (fraudlens_workspace_queue_size)", "{{status}}")], 12),
            ("Oldest open case vs the SLA", "timeseries", "s",
             [("max(fraudlens_workspace_oldest_case_age_seconds)", "oldest case"),
              ("max(fraudlens_workspace_sla_seconds)", "SLA")], 12),
            ("Cases past the SLA", "stat", "none",
             [("max(fraudlens_workspace_sla_breached_cases)", "breached")], 8),
            ("Verdicts per analyst (last day)", "table", "none",
             [("max by (analyst, verdict) (delta(fraudlens_workspace_verdicts[1d]))", "{{analyst}} {{verdict}}")], 16),
        ],
    ),
}


def panel(pid: int, spec: Panel, x: int, y: int) -> dict[str, Any]:
    title, kind, unit, targets, width = spec
    out: dict[str, Any] = {
        "id": pid,
        "type": kind,
        "title": title,
        "datasource": DS,
        "gridPos": {"h": 8, "w": width, "x": x, "y": y},
        "fieldConfig": {"defaults": {"unit": unit}, "overrides": []},
        "options": {},
        "targets": [
            {"refId": chr(65 + i), "datasource": DS, "expr": expr, "legendFormat": legend}
            for i, (expr, legend) in enumerate(targets)
        ],
    }
    if kind == "table":
        out["targets"][0]["format"] = "table"
        out["targets"][0]["instant"] = True
    if kind == "heatmap":
        out["targets"][0]["format"] = "heatmap"
    return out


def dashboard(uid: str, title: str, panels: list[Panel]) -> dict[str, Any]:
    built, x, y = [], 0, 0
    for i, spec in enumerate(panels, start=1):
        if x + spec[4] > 24:
            x, y = 0, y + 8
        built.append(panel(i, spec, x, y))
        x += spec[4]
    return {
        "uid": f"fraudlens-{uid}",
        "title": title,
        "tags": ["fraudlens"],
        "timezone": "utc",
        "schemaVersion": 39,
        "version": 1,
        "refresh": "30s",
        "time": {"from": "now-6h", "to": "now"},
        "editable": True,
        "templating": {"list": []},
        "annotations": {"list": []},
        "panels": built,
    }


def main() -> None:
    out = Path(__file__).resolve().parent / "dashboards"
    out.mkdir(exist_ok=True)
    for uid, (title, panels) in DASHBOARDS.items():
        path = out / f"{uid}.json"
        path.write_text(json.dumps(dashboard(uid, title, panels), indent=2) + "\n")
        print(path)


if __name__ == "__main__":
    main()
