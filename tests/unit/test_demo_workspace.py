"""The demo's workspace step hands the newcomer a throwaway analyst key that really signs in."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest
from rich.console import Console

from fraudlens.demo.logs import demo_log_path, logs_to_file
from fraudlens.demo.workspace import print_sign_in
from fraudlens.security.auth import Authenticator
from fraudlens.security.roles import WORKSPACE_PERMISSION, Role
from fraudlens.settings import Settings

KEY = re.compile(r"^fl_[A-Za-z0-9]{1,16}_[A-Za-z0-9_-]{43}$")


def test_the_printed_key_and_command_sign_an_analyst_in(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capfd: pytest.CaptureFixture[str]
) -> None:
    data_dir = tmp_path / "demo data"  # a space: the printed command must quote it
    log = demo_log_path(data_dir)
    console = Console(width=60)  # narrower than the lines: they must not be cut
    with logs_to_file(log, console=console):
        print_sign_in(Settings(data_dir=data_dir), console)
    out = capfd.readouterr().out
    lines = [line.strip() for line in out.splitlines()]
    keys = [line for line in lines if KEY.match(line)]
    assert len(keys) == 1
    key = keys[0]
    assert "http://127.0.0.1:8000/workspace/sign-in" in out
    serve = next(line for line in lines if line.endswith("serve --broker"))
    words = shlex.split(serve)
    assert Path(words[-3]).name == "fraudlens" and Path(words[-3]).exists()  # this env's command
    for word in words[:-3]:  # the command's environment, as a shell would set it
        name, value = word.split("=", 1)
        monkeypatch.setenv(name, value)
    settings = Settings()
    assert settings.data_dir == data_dir
    assert not settings.workspace.secure_cookie  # plain http on localhost
    # What the workspace's sign-in does with the key typed in its form.
    principal = Authenticator.from_settings(settings).authenticate(api_key=key)
    assert principal.roles == {Role.ANALYST}
    assert principal.allows(WORKSPACE_PERMISSION)
    assert key not in log.read_text()  # the terminal only
    # A new key each run: the printed one is throwaway, not a fixed demo secret.
    console.print("")
    print_sign_in(Settings(data_dir=data_dir), console)
    again = [line.strip() for line in capfd.readouterr().out.splitlines()]
    assert key not in again
