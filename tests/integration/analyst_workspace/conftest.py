"""The workspace served for real: the scoring API app (with the workspace mounted) under
uvicorn on a free port, the records database, the labels topic, and Chromium driven by
Playwright (Debian's ``chromium``, installed by ``make tools``).

The scoring model behind the app is the package's small fake (the workspace
does not score); the database, broker, audit chain, publisher and browser are real.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from browser import ResponseRecorder, chromium, served, signed_in
from cases_data import stored_features
from fake_api import fake_api_context, fake_service
from sqlalchemy import Engine
from workspace_app import Workspace

from fraudlens.records.api_keys import PgKeyStore
from fraudlens.records.audit import PgAuditLog
from fraudlens.scoring.rule_store import FileRuleStore
from fraudlens.security.auth import Authenticator, generate_api_key
from fraudlens.settings import ApiKeyEntry, KafkaSettings, WorkspaceSettings
from fraudlens.workspace import CaseDesk
from fraudlens.workspace.web import WorkspaceContext
from ray_apps.admin import AdminContext
from ray_apps.api import create_api
from ray_apps.labels import KafkaLabelPublisher

ROLES = {"ana1": "analyst", "ana2": "analyst", "boss": "admin", "pay": "scorer"}


def _unused(*_: Any) -> Any:
    raise AssertionError("not used by the workspace tests")


@pytest.fixture(scope="module")
def workspace(
    records_engine: Engine,
    module_kafka_settings: KafkaSettings,
    pan_guard: Any,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Workspace]:
    """The scoring API app with the workspace, served by uvicorn in a thread.

    Every response it sent is scanned for card numbers when the module ends.
    """
    keys, entries = {}, {}
    for key_id, role in ROLES.items():
        _, key, digest = generate_api_key(key_id)
        keys[key_id] = key
        entries[key_id] = ApiKeyEntry(role=role, sha256=digest)
    audit = PgAuditLog(records_engine)
    publisher = KafkaLabelPublisher(module_kafka_settings)
    # One authenticator for the API and the workspace, accepting the keys admins create.
    authenticator = Authenticator(entries, key_store=PgKeyStore(records_engine))
    desk = CaseDesk(records_engine, publisher, audit)
    data_dir = tmp_path_factory.mktemp("workspace")
    admin = AdminContext(  # the rules page changes this store (promotion, erasure unused)
        FileRuleStore(data_dir / "rules.json"), audit, data_dir, _unused, _unused, 0
    )
    ctx = fake_api_context(
        fake_service("7", features=stored_features()),
        labels=publisher,
        authenticator=authenticator,
        admin=admin,
        workspace=WorkspaceContext.ready(
            records_engine,
            desk,
            authenticator,
            WorkspaceSettings(secure_cookie=False),  # plain http on localhost
        ),
    )
    recorder = ResponseRecorder(create_api(ctx))
    try:
        with served(recorder) as url:
            yield Workspace(
                f"{url}/workspace",
                keys,
                records_engine,
                module_kafka_settings,
                audit,
                desk,
                recorder.bodies,
            )
    finally:
        publisher.close()
        for path, body in recorder.bodies:
            pan_guard.scan_text(body.decode(errors="replace"), f"workspace response {path}")
        pan_guard.add([], "workspace responses", len(recorder.bodies))


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """Headless Chromium for the module."""
    with chromium() as browser:
        yield browser


@pytest.fixture
def sign_in(workspace: Workspace, browser: Any) -> Iterator[Callable[[str], Any]]:
    """``sign_in(key_id)``: a fresh browser context signed in with that key; returns its page."""
    contexts: list[Any] = []

    def make(key_id: str) -> Any:
        page = signed_in(browser, workspace.url, workspace.keys[key_id])
        contexts.append(page.context)
        return page

    yield make
    for context in contexts:
        context.close()
