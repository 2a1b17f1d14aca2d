"""Prometheus config, rules and their tests, runbooks and Grafana dashboards, checked offline.

promtool comes from the Debian package ``prometheus``. Dashboards cannot be
queried without a server, so every panel expression is written into a
temporary recording-rules file that ``promtool check rules`` parses.
"""

from __future__ import annotations

import json
import re
import runpy
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
PROM = ROOT / "monitoring" / "prometheus"
GRAFANA = ROOT / "monitoring" / "grafana"
RULE_FILES = sorted((PROM / "rules").glob("*.yml"))
TEST_FILES = sorted((PROM / "tests").glob("*.yml"))
DASHBOARDS = sorted((GRAFANA / "dashboards").glob("*.json"))
# Grafana's interval variables, replaced by a fixed range before parsing.
GRAFANA_VARS = {"$__rate_interval": "5m", "$__interval": "1m", "$__range": "1h"}


@pytest.fixture(scope="module")
def promtool() -> str:
    path = shutil.which("promtool")
    if path is None:
        pytest.fail(
            "promtool not found: apt-get install -y --no-install-recommends prometheus", False
        )
    return path


def _run(promtool: str, *args: str, cwd: Path = PROM) -> str:
    proc = subprocess.run(
        [promtool, *args], cwd=cwd, capture_output=True, text=True, timeout=120, check=False
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc.stdout


def _alerts() -> list[dict[str, Any]]:
    rules = []
    for path in RULE_FILES:
        for group in yaml.safe_load(path.read_text())["groups"]:
            rules += [r for r in group["rules"] if "alert" in r]
    return rules


def test_files_exist() -> None:
    assert RULE_FILES and TEST_FILES and len(DASHBOARDS) >= 4
    assert len(_alerts()) >= 8


def test_check_config(promtool: str) -> None:
    out = _run(promtool, "check", "config", "prometheus.yml")
    assert "SUCCESS" in out
    config = yaml.safe_load((PROM / "prometheus.yml").read_text())
    jobs = {job["job_name"] for job in config["scrape_configs"]}
    assert {"fraudlens-api", "fraudlens-stream-features", "fraudlens-drift", "ray"} <= jobs


@pytest.mark.parametrize("path", RULE_FILES, ids=lambda p: p.name)
def test_check_rules(promtool: str, path: Path) -> None:
    _run(promtool, "check", "rules", str(path))


@pytest.mark.parametrize("path", TEST_FILES, ids=lambda p: p.name)
def test_promtool_unit_tests(promtool: str, path: Path) -> None:
    assert "SUCCESS" in _run(promtool, "test", "rules", str(path.relative_to(PROM)))


def test_every_alert_has_a_runbook_and_a_firing_test() -> None:
    tested: set[str] = set()
    for path in TEST_FILES:
        for case in yaml.safe_load(path.read_text())["tests"]:
            for check in case.get("alert_rule_test", []):
                if check.get("exp_alerts"):
                    tested.add(check["alertname"])
    linked = set()
    for rule in _alerts():
        name = rule["alert"]
        url = rule["annotations"]["runbook_url"]
        assert (ROOT / url).is_file(), f"{name}: runbook {url} missing"
        assert name in (ROOT / url).read_text(), f"{name}: runbook does not name the alert"
        assert rule["labels"]["severity"] in {"page", "ticket", "warning"}
        assert name in tested, f"{name}: no promtool test makes it fire"
        linked.add(Path(url).name)
    pages = {p.name for p in (ROOT / "docs" / "runbooks").glob("*.md")} - {"README.md"}
    assert pages == linked, f"runbooks without an alert: {sorted(pages - linked)}"


def _panels() -> list[tuple[str, dict[str, Any]]]:
    out = []
    for path in DASHBOARDS:
        board = json.loads(path.read_text())
        ids = [p["id"] for p in board["panels"]]
        assert len(ids) == len(set(ids)), f"{path.name}: duplicate panel ids"
        assert board["uid"].startswith("fraudlens-")
        out += [(path.stem, p) for p in board["panels"]]
    return out


def test_every_panel_expression_parses(promtool: str, tmp_path: Path) -> None:
    datasource = yaml.safe_load(
        (GRAFANA / "provisioning" / "datasources" / "prometheus.yml").read_text()
    )
    uid = datasource["datasources"][0]["uid"]
    rules = []
    for board, panel in _panels():
        assert panel["targets"], f"{board}/{panel['title']}: no query"
        for target in panel["targets"]:
            assert target["datasource"]["uid"] == uid
            expr = target["expr"]
            for var, value in GRAFANA_VARS.items():
                expr = expr.replace(var, value)
            rules.append({"record": f"panel:{board.replace('-', '_')}:{len(rules)}", "expr": expr})
    path = tmp_path / "panels.yml"
    path.write_text(yaml.safe_dump({"groups": [{"name": "panels", "rules": rules}]}))
    assert f"SUCCESS: {len(rules)} rules found" in _run(promtool, "check", "rules", str(path))


def test_dashboards_match_their_generator() -> None:
    gen = runpy.run_path(str(GRAFANA / "generate.py"))
    for uid, (title, panels) in gen["DASHBOARDS"].items():
        committed = json.loads((GRAFANA / "dashboards" / f"{uid}.json").read_text())
        assert committed == gen["dashboard"](uid, title, panels), f"regenerate {uid}.json"


def test_provisioning_points_at_the_dashboards() -> None:
    provider = yaml.safe_load(
        (GRAFANA / "provisioning" / "dashboards" / "fraudlens.yml").read_text()
    )
    assert provider["providers"][0]["type"] == "file"


def _used_metric_names() -> set[str]:
    texts = [p.read_text() for p in RULE_FILES + DASHBOARDS]
    names = set()
    for text in texts:
        names |= set(re.findall(r"\b(fraudlens_[a-z0-9_]+)", text))
    return names


def _exposed(registry_names: list[tuple[str, str]]) -> set[str]:
    out = set()
    for name, kind in registry_names:
        if kind == "counter":
            out.add(f"{name}_total")
        elif kind == "histogram":
            out |= {f"{name}_bucket", f"{name}_count", f"{name}_sum"}
        else:
            out.add(name)
    return out


def test_metric_names_are_defined() -> None:
    from drift.metrics import DriftMetrics
    from fraudlens.features.metrics import StreamMetrics
    from fraudlens.records.sink_metrics import SinkMetrics
    from fraudlens.scoring.metrics import ServingMetrics
    from fraudlens.workspace.metrics import METRICS as WORKSPACE_METRICS

    serving = ServingMetrics()
    assert serving.stream is not None and serving.registry is not None  # stream scorer's too
    defined = set()
    registries = (DriftMetrics(), StreamMetrics(), SinkMetrics(), serving)
    for registry in (r.registry for r in registries):
        defined |= _exposed([(f.name, f.type) for f in registry.collect()])
    defined |= _exposed(list(WORKSPACE_METRICS))  # read from PostgreSQL at scrape time
    used = _used_metric_names()
    assert {"fraudlens_requests_total", "fraudlens_model_info"} <= used  # the scan works
    assert not sorted(used - defined)


def test_latency_buckets_hold_the_slo_bound() -> None:
    from fraudlens.scoring.metrics import AGE_BUCKETS, LATENCY_BUCKETS

    texts = [p.read_text() for p in RULE_FILES]
    bounds = set()
    for text in texts:
        bounds |= set(re.findall(r'fraudlens_request_latency_seconds_bucket\{le="([0-9.]+)"', text))
    assert bounds and {float(b) for b in bounds} <= set(LATENCY_BUCKETS)
    assert 21600 in AGE_BUCKETS  # the stale-features alert's threshold


def test_ray_job_renames_fraudlens_metrics() -> None:
    config = yaml.safe_load((PROM / "prometheus.yml").read_text())
    (ray,) = [job for job in config["scrape_configs"] if job["job_name"] == "ray"]
    (rule,) = [r for r in ray["metric_relabel_configs"] if r.get("target_label") == "__name__"]
    pattern = re.compile(f"^(?:{rule['regex']})$")  # Prometheus anchors the regex
    match = pattern.match("ray_fraudlens_requests_total")
    assert match is not None
    assert match.expand(rule["replacement"].replace("$", "\\")) == "fraudlens_requests_total"
    assert pattern.match("ray_serve_num_http_requests_total") is None
