"""``fraudlens keys|audit|privacy``: thin wrappers over fraudlens.security."""

from __future__ import annotations

import json
from dataclasses import asdict
from typing import Annotated

import typer

from fraudlens.cli.common import console, friendly, settings_of

keys_app = typer.Typer(help="Field-encryption keys.")
audit_app = typer.Typer(help="The tamper-evident audit log.")
privacy_app = typer.Typer(help="GDPR erasure and retention.")


@keys_app.command("rotate")
@friendly
def keys_rotate(
    ctx: typer.Context,
    actor: Annotated[str, typer.Option(help="Who runs the rotation (for the audit log).")] = "cli",
) -> None:
    """Re-encrypt every encrypted column under the active key, verifying every row."""
    from fraudlens.security.rotation import rotate_keys

    report = rotate_keys(settings_of(ctx), actor=actor)
    console.print_json(
        json.dumps(
            {
                "active_kid": report.active_kid,
                "reencrypted": report.reencrypted,
                "key_usage": report.key_usage,
                "old_keys_in_use": report.old_keys_in_use,
            }
        )
    )


@audit_app.command("verify")
@friendly
def audit_verify(
    ctx: typer.Context,
    expected_head: Annotated[
        str | None, typer.Option(help="Head hash kept elsewhere (detects truncation).")
    ] = None,
) -> None:
    """Check the audit log's hash chain; exit 1 if any entry was changed or removed."""
    from fraudlens.security.audit import verify_audit_log

    result = verify_audit_log(settings_of(ctx), expected_head)
    console.print_json(json.dumps(asdict(result) | {"ok": result.ok}))
    if not result.ok:
        raise typer.Exit(1)


@privacy_app.command("erase")
@friendly
def privacy_erase(
    ctx: typer.Context,
    customer: Annotated[str, typer.Option(help="Customer id to erase from every store.")],
    actor: Annotated[str, typer.Option(help="Who asked (for the audit log).")] = "cli",
) -> None:
    """Erase a customer's data across stores and record it; exit 1 unless complete."""
    from fraudlens.security.privacy import erase_customer

    report = erase_customer(settings_of(ctx), customer, actor=actor)
    console.print_json(json.dumps(asdict(report) | {"complete": report.complete}, default=str))
    if not report.complete:
        raise typer.Exit(1)


@privacy_app.command("retention")
@friendly
def privacy_retention(
    ctx: typer.Context,
    actor: Annotated[str, typer.Option(help="Who runs it (for the audit log).")] = "cli",
) -> None:
    """Delete rows older than each store's retention period."""
    from fraudlens.security.retention import apply_retention

    console.print_json(json.dumps(asdict(apply_retention(settings_of(ctx), actor=actor))))
