"""The real scoring API's context over the package's fakes (model, features), for API tests."""

from __future__ import annotations

from typing import Any

from fraudlens.scoring import ScoringConfig, ScoringService
from fraudlens.scoring.fakes import FakeFeatures, FakeLoader, FakeModel
from fraudlens.security.tokenize import Tokenizer
from fraudlens.settings import ValidationSettings
from ray_apps.api import ApiContext

TEST_TOKENIZER = Tokenizer("k1", {"k1": b"0123456789abcdef"})


def fake_service(version: str = "1") -> ScoringService:
    """A scoring service whose champion is ``FakeModel(version)``, with no online features."""
    service = ScoringService(
        FakeLoader([FakeModel(version)], {"champion": version}), FakeFeatures({})
    )
    service.apply_config(ScoringConfig())
    return service


def fake_api_context(service: ScoringService | None = None, **options: Any) -> ApiContext:
    """An ``ApiContext`` over ``service`` (default ``fake_service()``) and the test tokenizer.

    ``options`` are ``ApiContext``'s own (authenticator, admin, labels, workspace, ...).
    """
    return ApiContext(service or fake_service(), TEST_TOKENIZER, ValidationSettings(), **options)
