"""The real scoring API's context over the package's fakes (model, features), for API tests."""

from __future__ import annotations

from typing import Any

from fraudlens.scoring import ScoringConfig, ScoringService
from fraudlens.scoring.fakes import FakeFeatures, FakeLoader, FakeModel
from fraudlens.security.tokenize import Tokenizer
from fraudlens.settings import ValidationSettings
from ray_apps.api import ApiContext

TEST_TOKENIZER = Tokenizer("k1", {"k1": b"0123456789abcdef"})


def fake_service(
    version: str = "1",
    *,
    features: FakeFeatures | None = None,
    models: list[FakeModel] | None = None,
    **service_options: Any,
) -> ScoringService:
    """A scoring service whose champion is ``FakeModel(version)`` (no online features by default).

    ``models`` adds registered versions besides the champion; ``service_options`` are
    ``ScoringService``'s own (decisions, shadow, ...).
    """
    loader = FakeLoader([FakeModel(version), *(models or [])], {"champion": version})
    service = ScoringService(loader, features or FakeFeatures({}), **service_options)
    service.apply_config(ScoringConfig())
    return service


def fake_api_context(service: ScoringService | None = None, **options: Any) -> ApiContext:
    """An ``ApiContext`` over ``service`` (default ``fake_service()``) and the test tokenizer.

    ``options`` are ``ApiContext``'s own (authenticator, admin, labels, workspace, ...).
    """
    return ApiContext(service or fake_service(), TEST_TOKENIZER, ValidationSettings(), **options)
