"""`fraudlens records upgrade|status`, `audit verify` on PostgreSQL, and the embedded server."""

from __future__ import annotations

import shutil
import tempfile
import uuid
from pathlib import Path

import pytest
from sqlalchemy import Engine, make_url, text
from typer.testing import CliRunner

from fraudlens.cli import app
from fraudlens.errors import RecordsError
from fraudlens.records import (
    PgAuditLog,
    engine_from_settings,
    head_revision,
    make_engine,
    status,
    upgrade,
)
from fraudlens.records.embedded import stop_embedded
from fraudlens.security.audit import Action, audit_log_from_settings
from fraudlens.settings import Settings

pytestmark = pytest.mark.integration
runner = CliRunner()
KEY = "cli-audit-key-0123456789abcdef-0123456"


@pytest.fixture
def env(records_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    values = {
        "FRAUDLENS_DATA_DIR": str(tmp_path),
        "FRAUDLENS_RECORDS__DATABASE_URL": records_url,
        "FRAUDLENS_SECURITY__AUDIT_HMAC_KEY": KEY,
    }
    for name, value in values.items():
        monkeypatch.setenv(name, value)
    return values


def test_upgrade_and_status(env: dict[str, str]) -> None:
    result = runner.invoke(app, ["records", "upgrade"])
    assert result.exit_code == 0, result.output
    assert f"revision {head_revision()}" in result.output
    result = runner.invoke(app, ["records", "status"])
    assert result.exit_code == 0, result.output
    assert '"up_to_date": true' in result.output and '"decisions": 0' in result.output


def test_audit_goes_to_postgres_and_verify_names_the_tampered_row(
    env: dict[str, str], records_engine: Engine, tmp_path: Path
) -> None:
    log = audit_log_from_settings(Settings())
    assert isinstance(log, PgAuditLog)
    for n in range(3):
        log.append("alice", Action.RULE_CHANGED, target=f"rule-{n}", details={"n": n})
    assert not (tmp_path / "audit").exists()  # no file chain beside it
    result = runner.invoke(app, ["audit", "verify"])
    assert result.exit_code == 0, result.output
    assert '"entries": 3' in result.output

    with records_engine.begin() as conn:
        conn.execute(text("UPDATE audit SET target = 'rule-x' WHERE seq = 1"))
    result = runner.invoke(app, ["audit", "verify"])
    assert result.exit_code == 1
    assert "seq 1: field target: changed after it was hashed" in result.output


def test_embedded_mode_starts_postgres_from_the_wheel(tmp_path: Path) -> None:
    # The data folder lives outside basetemp (see conftest: the PAN guard and catalog pages).
    root = Path(tempfile.mkdtemp(prefix="fraudlens-pg-embedded-"))
    settings = Settings(data_dir=tmp_path, records={"embedded_dir": root / "pg"})
    try:
        engine = engine_from_settings(settings)  # the embedded server is migrated on the spot
        with engine.connect() as conn:
            assert conn.execute(text("SHOW server_version")).scalar_one().startswith("18")
        assert status(engine).up_to_date
        engine.dispose()
    finally:
        stop_embedded(root / "pg")
        shutil.rmtree(root, ignore_errors=True)


def test_a_configured_database_behind_the_package_is_refused(
    postgres_url: str, tmp_path: Path
) -> None:
    name = f"fraudlens_behind_{uuid.uuid4().hex[:8]}"
    admin = make_engine(postgres_url, pool_size=1)
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{name}"'))
    url = make_url(postgres_url).update_query_dict({"options": f"-csearch_path={name}"})
    settings = Settings(
        data_dir=tmp_path, records={"database_url": url.render_as_string(hide_password=False)}
    )
    try:
        with pytest.raises(RecordsError, match="run `fraudlens records upgrade`"):
            engine_from_settings(settings)
        engine = engine_from_settings(settings, check_schema=False)
        upgrade(engine)
        engine.dispose()
        engine_from_settings(settings).dispose()
    finally:
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{name}" CASCADE'))
        admin.dispose()


def test_unreachable_database_is_a_one_line_error_without_the_password(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("FRAUDLENS_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("FRAUDLENS_RECORDS__DATABASE_URL", "postgresql://u:pw-Xk42@127.0.0.1:1/x")
    result = runner.invoke(app, ["records", "status"])
    assert result.exit_code == 1
    assert "cannot reach the records database" in result.output
    assert "pw-Xk42" not in result.output
