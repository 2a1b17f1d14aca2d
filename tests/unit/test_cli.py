from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from typer.main import get_command
from typer.testing import CliRunner

from fraudlens.cli import app

runner = CliRunner()


def command_paths() -> list[list[str]]:
    paths: list[list[str]] = [[]]
    root = get_command(app)
    for name, cmd in root.commands.items():  # type: ignore[attr-defined]
        paths.append([name])
        for sub in getattr(cmd, "commands", {}):
            paths.append([name, sub])
    return paths


@pytest.mark.parametrize("path", command_paths(), ids=lambda p: " ".join(p) or "root")
def test_every_command_has_help(path: list[str]) -> None:
    result = runner.invoke(app, [*path, "--help"])
    assert result.exit_code == 0, result.output
    assert "Usage" in result.output


def test_simulate_writes_parquet(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FRAUDLENS_DATA_DIR", str(tmp_path))
    result = runner.invoke(
        app,
        [
            "simulate",
            "--customers",
            "200",
            "--days",
            "5",
            "--seed",
            "3",
            "--out",
            str(tmp_path / "s"),
        ],
    )
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout[result.stdout.index("{") :])
    frame = pd.read_parquet(tmp_path / "s" / "transactions.parquet")
    assert summary["rows"] == len(frame) > 0


def test_bad_setting_names_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FRAUDLENS_KAFKA__PARTITIONS", "many")
    result = runner.invoke(app, ["simulate", "--help"])
    assert result.exit_code == 0  # --help needs no settings...
    result = runner.invoke(app, ["simulate"])
    assert result.exit_code == 2
    assert "kafka.partitions" in result.output


def test_errors_are_one_line_not_tracebacks(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, pan_fixture_path: Any
) -> None:
    monkeypatch.setenv("FRAUDLENS_DATA_DIR", str(tmp_path))
    mapping = tmp_path / "m.yaml"
    mapping.write_text("columns:\n  pan: card\n  amount: amt\n")
    source = pan_fixture_path("in.csv")  # a PAN input on purpose (see tests/conftest.py)
    source.write_text("card,other\n4111111111111111,1\n")
    result = runner.invoke(app, ["import", str(source), "--mapping", str(mapping)])
    assert result.exit_code == 1
    said = " ".join(result.output.split())  # rich wraps long lines
    assert "customer_id" in said and "map a column or set a default" in said
    assert "Traceback" not in result.output and "pydantic" not in result.output

    defaults = "".join(f"  {f}: x\n" for f in ("transaction_id", "event_time", "customer_id"))
    mapping.write_text(
        "columns:\n  pan: card\n  amount: amt\n" + "defaults:\n" + defaults + "  mcc: 5411\n"
        "  terminal_id: T\n  merchant_id: M\n  currency: EUR\n  channel: atm\n"
        "  entry_mode: chip\n  country: FR\n"
    )
    result = runner.invoke(app, ["import", str(source), "--mapping", str(mapping)])
    assert result.exit_code == 1
    assert "mapped column(s) not found: amt" in result.output
    assert "Traceback" not in result.output

    result = runner.invoke(app, ["simulate", "--scenario-start", "nonsense"])
    assert result.exit_code == 2
    assert "SCENARIO=DAY" in result.output

    result = runner.invoke(app, ["simulate", "--scenario-start", "alien_invasion=3"])
    assert result.exit_code == 1
    assert "unknown scenario" in result.output


def test_replay_without_broker_explains(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FRAUDLENS_DATA_DIR", str(tmp_path))
    monkeypatch.delenv("FRAUDLENS_KAFKA__BOOTSTRAP_SERVERS", raising=False)
    result = runner.invoke(app, ["replay"])
    assert result.exit_code == 1
    assert "fraudlens broker" in result.output


def test_audit_verify_detects_tampering(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from fraudlens.security.audit import Action, audit_log_from_settings
    from fraudlens.settings import Settings

    monkeypatch.setenv("FRAUDLENS_DATA_DIR", str(tmp_path))
    log = audit_log_from_settings(Settings())
    log.append("alice", Action.RULE_CHANGED, target="blocklist", details={"added": 1})
    log.append("bob", Action.MODEL_PROMOTED, target="fraudlens/3")
    assert runner.invoke(app, ["audit", "verify"]).exit_code == 0

    lines = log.path.read_text().splitlines()
    log.path.write_text("\n".join([lines[0].replace("alice", "mallory"), *lines[1:]]) + "\n")
    result = runner.invoke(app, ["audit", "verify"])
    assert result.exit_code == 1
    assert '"ok": false' in result.output


def test_import_accepting_nothing_exits_non_zero(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FRAUDLENS_DATA_DIR", str(tmp_path))
    fields = ("transaction_id", "event_time", "card_reference", "customer_id", "amount")
    (tmp_path / "map.yaml").write_text(
        "columns:\n"
        + "".join(f"  {f}: {f}\n" for f in fields)
        + "defaults: {terminal_id: T, merchant_id: M, mcc: 5411, currency: EUR,"
        " channel: atm, entry_mode: chip, country: FR}\n"
    )
    frame = pd.DataFrame(
        {
            "transaction_id": [1, 2],  # integer ids: accepted as text
            "event_time": pd.to_datetime(["2026-05-01", "2026-05-02"], utc=True),
            "card_reference": [10, 11],
            "customer_id": [5, 6],
            "amount": [-1.0, -2.0],  # but every amount is negative
        }
    )
    frame.to_parquet(tmp_path / "in.parquet")
    result = runner.invoke(
        app, ["import", str(tmp_path / "in.parquet"), "--mapping", str(tmp_path / "map.yaml")]
    )
    assert result.exit_code == 1, result.output
    said = " ".join(result.output.split())
    assert "no row accepted" in said and "field amount (2 rows)" in said
    assert (tmp_path / "import" / "rejects.parquet").exists()


def test_stream_features_snapshot_flag_and_refusal(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import fraudlens.features.stream as stream
    from fraudlens.features.checkpoint import CheckpointError

    monkeypatch.setenv("FRAUDLENS_DATA_DIR", str(tmp_path))
    calls: list[dict[str, Any]] = []
    monkeypatch.setattr(stream, "run_stream_job", lambda *a, **kw: calls.append(kw) or "done")
    assert runner.invoke(app, ["stream", "features", "--no-snapshot"]).exit_code == 0
    assert runner.invoke(app, ["stream", "features"]).exit_code == 0
    assert [c["from_snapshot"] for c in calls] == [False, True]

    def refuse(*args: Any, **kwargs: Any) -> None:
        raise CheckpointError("snapshot s has format version 9: run --no-snapshot")

    monkeypatch.setattr(stream, "run_stream_job", refuse)
    result = runner.invoke(app, ["stream", "features"])
    assert result.exit_code != 0 and "--no-snapshot" in result.output
