"""``fraudlens deploy ...``: validate, render and sync the deployment files.

Mount it in the main CLI with ``app.add_typer(deploy_app, name="deploy")``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
import yaml
from rich.console import Console

from fraudlens.errors import ConfigError

deploy_app = typer.Typer(help="Validate and render the Kubernetes (KubeRay) deployment, offline.")
console = Console(stderr=True)

RepoOption = Annotated[
    Path, typer.Option(help="Repository root (holding kuberay/, docker/, .circleci/).")
]


@deploy_app.command("check")
def check(repo: RepoOption = Path(".")) -> None:
    """Run every check: schemas, KubeRay CRDs, Serve config, policies, Dockerfile, CircleCI.

    Uses the KubeRay CRDs vendored in kuberay/crds/ unless FRAUDLENS_KUBERAY_CRDS
    names the CRD folder of your KubeRay release.
    """
    from fraudlens.deploy.check import check_repo

    try:
        problems = check_repo(repo.resolve())
    except ConfigError as exc:
        console.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(2) from None
    for problem in problems:
        console.print(f"[red]✗[/red] {problem}", highlight=False)
    if problems:
        console.print(f"{len(problems)} problem(s)")
        raise typer.Exit(1)
    console.print("[green]deployment files are valid[/green]")


@deploy_app.command("render")
def render_cmd(
    environment: Annotated[str, typer.Argument(help="dev or prod.")],
    repo: RepoOption = Path("."),
) -> None:
    """Print an environment's objects (overlay + training job) as YAML, e.g. for `kubectl diff`."""
    from fraudlens.deploy.check import render_environment

    try:
        objects = render_environment(repo.resolve(), environment)
    except ConfigError as exc:
        console.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(2) from None
    typer.echo(yaml.safe_dump_all(objects, sort_keys=False), nl=False)


@deploy_app.command("sync-serve-config")
def sync_serve_config_cmd(repo: RepoOption = Path(".")) -> None:
    """Copy ray_apps/serve_config.yaml into the RayService's serveConfigV2."""
    from fraudlens.deploy.check import RAYSERVICE_FILE
    from fraudlens.deploy.serve import SERVE_SOURCE, sync_serve_config

    root = repo.resolve()
    try:
        changed = sync_serve_config(root / RAYSERVICE_FILE, root / SERVE_SOURCE)
    except ConfigError as exc:
        console.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(2) from None
    console.print(f"{RAYSERVICE_FILE}: {'updated' if changed else 'already up to date'}")
