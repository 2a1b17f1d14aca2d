"""Issue #12's targets table (benchmarks/targets.py): met, not met, missing, not run."""

from __future__ import annotations

from typing import Any

from benchmarks.targets import TARGETS, format_targets, lookup, status, target_rows


def _app(p99: float, rps: float, degraded: int = 0) -> dict[str, Any]:
    rows = [
        {"concurrency": c, "rps": rps, "p99_ms": p99 * c / 16, "degraded": degraded}
        for c in (1, 16, 64)
    ]
    return {"rows": rows}


def _figures() -> dict[str, Any]:
    serve = _app(p99=20.0, rps=900.0) | {
        "server_side": {"server_p50_ms": 4.5},
        "batch": {"batch": 1000, "tx_per_s": 25_000.0},
        "start_to_full_answer_s": 7.5,
        "start_degraded": 0,
    }
    return {
        "serving": {
            "apps": {"bare": _app(p99=30.0, rps=1000.0), "ray-serve": serve},
            "stream": {"tx_per_s": 900.0},
        },
        "offline": {"rows": 200_000, "retrieval_seconds": 10.0},
    }


def _by_figure(figures: dict[str, Any], failed: tuple[str, ...] = ()) -> dict[str, str]:
    return {row[1]: row[4] for row in target_rows(figures, failed)}


def test_lookup_walks_mappings_and_picks_rows_by_field() -> None:
    figures = _figures()
    assert lookup(figures, "serving/apps/bare/rows/concurrency=64/p99_ms") == 120.0
    assert lookup(figures, "serving/apps/bare/rows/concurrency=8/p99_ms") is None
    assert lookup(figures, "serving/apps/missing/rows") is None
    assert lookup(figures, "serving/stream/tx_per_s/deeper") is None


def test_met_and_not_met_against_the_limit() -> None:
    verdicts = _by_figure(_figures())
    assert verdicts["p99, wrk, Ray Serve app"] == "met"  # 20 <= 25
    assert verdicts["degraded answers, Ray Serve app"] == "met"  # 0 <= 0
    assert verdicts["server-side p50 (the API's latency_ms)"] == "NOT met"  # 4.5 > 3
    assert verdicts["tx/s, calls of 1,000 tx, Ray Serve app"] == "met"
    assert verdicts["tx/s, Kafka to Kafka"] == "NOT met"  # 900 < 20,000
    assert verdicts["to first non-degraded answer"] == "printed"
    assert verdicts["degraded answers once ready"] == "met"


def test_a_ratio_of_two_figures() -> None:
    ratio = next(t for t in TARGETS if len(t.keys) == 2)
    assert status(ratio, _figures()) == (0.9, "met")  # 900 / 1000 >= 0.8
    figures = _figures()
    figures["serving"]["apps"]["ray-serve"]["rows"][1]["rps"] = 700.0
    assert status(ratio, figures) == (0.7, "NOT met")
    del figures["serving"]["apps"]["bare"]
    assert status(ratio, figures)[1].startswith("not measured")


def test_one_degraded_answer_misses_the_target() -> None:
    figures = _figures()
    figures["serving"]["apps"]["ray-serve"]["rows"][1]["degraded"] = 1
    assert _by_figure(figures)["degraded answers, Ray Serve app"] == "NOT met"


def test_missing_figures_say_which_benchmark_measures_them() -> None:
    figures = _figures()
    del figures["serving"]["stream"]
    verdicts = _by_figure(figures)
    assert verdicts["tx/s, Kafka to Kafka"] == ("not measured (bench_serving did not produce it)")
    assert verdicts["p99 of one batched read"] == ("not run (python -m benchmarks.run inference)")
    assert verdicts["events/s, Redis online store"] == (
        "not run (python -m benchmarks.run features)"
    )


def test_a_figure_at_the_wrong_size_does_not_count() -> None:
    verdicts = _by_figure(_figures())
    assert verdicts["seconds, DuckDB"] == (
        "not measured (size 200000, the target is for 1,000,000)"
    )
    figures = _figures()
    figures["offline"]["rows"] = 1_000_000
    assert _by_figure(figures)["seconds, DuckDB"] == "met"
    figures["offline"]["retrieval_seconds"] = 121.0
    assert _by_figure(figures)["seconds, DuckDB"] == "NOT met"


def test_a_failed_benchmark_is_named() -> None:
    verdicts = _by_figure({}, failed=("serving",))
    assert verdicts["tx/s, Kafka to Kafka"] == "failed (python -m benchmarks.run serving)"


def test_the_table_has_a_line_per_target_with_measured_and_target() -> None:
    lines = format_targets(_figures()).splitlines()
    assert lines[0].split() == ["path", "figure", "measured", "target", "status"]
    assert set(lines[1]) <= {"-", " "}
    assert len(lines) == 2 + len(TARGETS)
    p99 = next(line for line in lines if "p99, wrk" in line)
    assert "20 ms" in p99 and "<= 25 ms" in p99 and p99.endswith("met")
    starts = {line.index("<= 25 ms") for line in lines if "<= 25 ms" in line}
    assert starts == {lines[0].index("target")}
