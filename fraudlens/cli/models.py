"""``fraudlens train|evaluate|promote`` and ``fraudlens drift check|cycle|report|watch``."""

from __future__ import annotations

import json
import sys
from dataclasses import asdict
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from fraudlens.cli.common import console, friendly, settings_of

if TYPE_CHECKING:
    from drift.report import DriftReport

app = typer.Typer()
drift_app = typer.Typer(help="Drift detection against the champion's training reference.")

FromDay = Annotated[str, typer.Option("--from", help="First day of history (YYYY-MM-DD).")]
ToDay = Annotated[str, typer.Option("--to", help="End of history, exclusive (YYYY-MM-DD).")]


@app.command()
@friendly
def train(
    ctx: typer.Context,
    start: FromDay,
    end: ToDay,
    search_trials: Annotated[
        int | None,
        typer.Option(
            min=0,
            help="Ray Tune trials over XGBoost parameters, judged on backtest folds "
            "(default: training.search_trials, 0 = no search).",
        ),
    ] = None,
) -> None:
    """Train the ensemble with Ray Train on [FROM, TO) and register it as challenger."""
    from training import train as train_model

    settings = settings_of(ctx)
    if search_trials is not None:
        training = settings.training.model_copy(update={"search_trials": search_trials})
        settings = settings.model_copy(update={"training": training})
    result = train_model(settings, start, end)
    console.print(f"registered version {result.version} (run {result.run_id}) as challenger")
    console.print(result.test.markdown())


@app.command()
@friendly
def evaluate(
    ctx: typer.Context,
    start: FromDay,
    end: ToDay,
    alias: Annotated[
        str | None, typer.Option(help="Model alias to evaluate (default: champion).")
    ] = None,
    version: Annotated[
        str | None, typer.Option(help="Registered model version to evaluate, instead of an alias.")
    ] = None,
    scores: Annotated[
        Path | None,
        typer.Option(
            "--scores",
            "--scores-out",
            help="Write one score and decision per transaction here (.parquet or .csv).",
        ),
    ] = None,
) -> None:
    """Evaluate a registered model on [FROM, TO) with fraud metrics, per scenario."""
    from training import evaluate_model

    if alias is not None and version is not None:
        raise typer.BadParameter("give --alias or --version, not both", param_hint="--version")
    report = evaluate_model(
        settings_of(ctx),
        start,
        end,
        alias=alias or "champion",
        version=version,
        scores_path=scores,
    )
    console.print(report.markdown())
    if scores is not None:
        console.print(f"per-row scores: {scores}")


@app.command()
@friendly
def backtest(
    ctx: typer.Context,
    folds: Annotated[
        int | None, typer.Option(min=1, help="Number of folds (default: backtest.folds).")
    ] = None,
    train_days: Annotated[
        int | None,
        typer.Option(min=2, help="Labelled history per fold, validation included (days)."),
    ] = None,
    test_days: Annotated[
        int | None, typer.Option(min=1, help="Test block per fold, after the cut-off (days).")
    ] = None,
    gap_days: Annotated[
        int | None,
        typer.Option(min=0, help="Label delay between history and cut-off (default: its setting)."),
    ] = None,
    end: Annotated[
        str | None,
        typer.Option("--to", help="End of the last test block, exclusive (YYYY-MM-DD)."),
    ] = None,
    out: Annotated[
        Path | None, typer.Option(help="Folder for backtest.json and backtest.png.")
    ] = None,
) -> None:
    """Rolling-origin backtest: per fold, train on the labels known then, score the next days."""
    from training.backtest import run_backtest
    from training.backtest_report import markdown, write_report

    if end is not None:
        try:
            date.fromisoformat(end)
        except ValueError:
            raise typer.BadParameter(
                f"{end!r} is not a YYYY-MM-DD date", param_hint="--to"
            ) from None
    settings = settings_of(ctx)
    flags = {"folds": folds, "train_days": train_days, "test_days": test_days, "gap_days": gap_days}
    update = {key: value for key, value in flags.items() if value is not None}
    settings = settings.model_copy(update={"backtest": settings.backtest.model_copy(update=update)})
    report = run_backtest(settings, end)
    folder = out or settings.backtest.out_dir or settings.data_dir / "backtest"
    json_path, png_path, scores_path = write_report(report, folder)
    console.print(markdown(report), soft_wrap=True)  # wrapped table rows are unreadable
    console.print(f"report: {json_path}\nplot: {png_path}\nscores: {scores_path}", soft_wrap=True)


@app.command()
@friendly
def promote(
    ctx: typer.Context,
    version: Annotated[str, typer.Argument(help="Registered model version to gate.")],
) -> None:
    """Run the promotion gate: the version becomes champion only if it beats the champion."""
    from training import promote as gate

    decision = gate(settings_of(ctx), version)
    console.print_json(json.dumps(asdict(decision), default=str))
    if not decision.promoted:
        raise typer.Exit(3)


@drift_app.command("check")
@friendly
def drift_check(ctx: typer.Context) -> None:
    """Compare the recent decision log with the champion's reference; write an HTML report."""
    from drift import check_drift

    report = check_drift(settings_of(ctx))
    console.print(
        f"status={report.status} rows={report.rows} model={report.model_version} "
        f"report={report_place(report)}"
    )


def report_place(report: DriftReport) -> str:
    """Where a check's HTML page is: its file, or the command that prints it."""
    if report.html_path is not None:
        return str(report.html_path)
    if report.check_id is not None:
        return f"'fraudlens drift report --check-id {report.check_id}'"
    return "-"


@drift_app.command("report")
@friendly
def drift_report(
    ctx: typer.Context,
    check_id: Annotated[
        str | None,
        typer.Option(help="The check (its drift_checks id; default: the newest with a page)."),
    ] = None,
) -> None:
    """Print a drift check's HTML page stored in the records database (> report.html)."""
    from fraudlens.errors import RecordsError
    from fraudlens.records.engine import records_engine
    from fraudlens.records.operations import read_drift_report_html

    with records_engine(settings_of(ctx), pool_size=1) as engine, engine.connect() as conn:
        found = read_drift_report_html(conn, check_id)
    if found is None:
        what = f"check {check_id}" if check_id else "any check"
        raise RecordsError(
            f"no stored HTML report for {what} (pages stay files without a records database)"
        )
    sys.stdout.write(found[1])


@drift_app.command("cycle")
@friendly
def drift_cycle(ctx: typer.Context) -> None:
    """One pass of the retraining loop: check, label performance, retrain decision, gate.

    The same pass as ``drift watch`` (the scheduled Kubernetes job runs this);
    exits 1 when a retraining it waited for failed.
    """
    from drift.metrics import DriftMetrics
    from drift.watch import watch

    settings, metrics = settings_of(ctx), DriftMetrics()
    (done,) = watch(settings, 1, metrics=metrics)
    if settings.drift.pushgateway:  # a one-shot run has no /metrics to scrape
        from prometheus_client import push_to_gateway

        push_to_gateway(
            settings.drift.pushgateway, job="fraudlens-drift", registry=metrics.registry
        )
    report, verdict = done.report, done.verdict
    console.print(
        f"drift={report.status if report else 'error'} "
        f"model={report.model_version if report else '-'} "
        f"ap={done.performance.average_precision if done.performance else '-'} "
        f"report={report_place(report) if report else '-'}"
    )
    if verdict.reasons:
        console.print(f"retrain wanted: {'; '.join(verdict.reasons)}")
    if verdict.launched:
        console.print(f"launched {verdict.launched}")
    if verdict.suppressed:
        console.print(f"retraining suppressed ({verdict.suppressed})")
    if verdict.finished:
        console.print(
            f"retraining ended: {verdict.finished.outcome} (version {verdict.finished.version})"
        )
        if verdict.finished.outcome == "failed":
            raise typer.Exit(1)


@drift_app.command("watch")
@friendly
def drift_watch(
    ctx: typer.Context,
    iterations: Annotated[
        int | None, typer.Option(help="Checks to run before stopping (default: forever).")
    ] = None,
) -> None:
    """Run drift checks on a schedule and launch gated retraining when drift persists."""
    from drift import watch

    watch(settings_of(ctx), iterations)
