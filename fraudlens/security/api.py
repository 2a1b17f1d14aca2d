"""FastAPI dependencies: ``require(...)`` guards an endpoint with auth, roles and rate limits.

Usage in the scoring ingress::

    Scorer = Annotated[Principal, Depends(require(Permission.SCORE))]  # module level

    @app.post("/v1/score")
    async def score(body: ScoreRequest, caller: Scorer) -> ScoreResponse: ...

    app.state.fraudlens_auth = Authenticator.from_settings(settings)  # in the builder

(With ``from __future__ import annotations`` the alias must be a module-level
name; inside a function use ``dependencies=[Depends(require(...))]``.)

Missing or invalid credentials give 401 (with ``WWW-Authenticate``), a role
without the permission 403, an exhausted rate 429 (with ``Retry-After``). The
security schemes (``X-API-Key`` header, HTTP bearer) appear in the OpenAPI
spec, so generated clients and schemathesis send credentials.
"""

from __future__ import annotations

import math
from collections.abc import Awaitable, Callable
from functools import partial
from typing import Annotated

from fastapi import HTTPException, Request, Security, status
from fastapi.concurrency import run_in_threadpool
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer

from fraudlens.errors import AuthError, ForbiddenError, RateLimitError
from fraudlens.security.auth import Authenticator, Principal
from fraudlens.security.roles import Permission, Role

STATE_ATTR = "fraudlens_auth"
"""``app.state`` attribute holding the ``Authenticator``."""

api_key_header = APIKeyHeader(name="X-API-Key", auto_error=False, scheme_name="ApiKey")
bearer_scheme = HTTPBearer(auto_error=False, scheme_name="Bearer")

_CHALLENGE = {"WWW-Authenticate": 'Bearer, ApiKey header="X-API-Key"'}


def http_error(exc: AuthError | RateLimitError) -> HTTPException:
    """The HTTP answer for an auth or rate-limit error (401, 403 or 429)."""
    if isinstance(exc, ForbiddenError):
        return HTTPException(status.HTTP_403_FORBIDDEN, "this role may not call this endpoint")
    if isinstance(exc, RateLimitError):
        retry = str(max(1, math.ceil(exc.retry_after)))
        return HTTPException(
            status.HTTP_429_TOO_MANY_REQUESTS, "rate limit exceeded", {"Retry-After": retry}
        )
    return HTTPException(status.HTTP_401_UNAUTHORIZED, str(exc), _CHALLENGE)


def require(
    need: Permission | Role, authenticator: Authenticator | None = None
) -> Callable[..., Awaitable[Principal]]:
    """A FastAPI dependency that returns the caller if they may do ``need``.

    Args:
        need: a permission (preferred: see ``ENDPOINT_PERMISSIONS``) or a role
            (admins pass every role check).
        authenticator: the authenticator to use; default
            ``request.app.state.fraudlens_auth``.
    """

    async def dependency(
        request: Request,
        api_key: Annotated[str | None, Security(api_key_header)] = None,
        bearer: Annotated[HTTPAuthorizationCredentials | None, Security(bearer_scheme)] = None,
    ) -> Principal:
        auth = authenticator or getattr(request.app.state, STATE_ATTR, None)
        if auth is None:  # fail closed: a wiring mistake must not open the API
            raise HTTPException(
                status.HTTP_503_SERVICE_UNAVAILABLE, "authentication not configured"
            )
        check = partial(
            auth.check, need, api_key=api_key, bearer=bearer.credentials if bearer else None
        )
        try:
            # A key created in the workspace is looked up in PostgreSQL: off the event loop.
            principal = await run_in_threadpool(check) if auth.reads_store(api_key) else check()
        except (AuthError, RateLimitError) as exc:
            raise http_error(exc) from None
        request.state.principal = principal
        return principal

    return dependency
