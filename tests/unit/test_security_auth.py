from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
import time
from collections.abc import Iterator
from typing import Annotated, Any

import jwt
import pytest
from asgi_client import AsgiClient
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from fake_api import fake_api_context, fake_service
from fastapi import Depends, FastAPI
from prometheus_client import REGISTRY

from fraudlens.errors import AuthError, ConfigError, ForbiddenError, RateLimitError
from fraudlens.scoring.rule_store import FileRuleStore
from fraudlens.security.api import STATE_ATTR, require
from fraudlens.security.audit import AuditLog
from fraudlens.security.auth import Authenticator, Principal, generate_api_key
from fraudlens.security.ratelimit import STORAGE_ERRORS, SharedRateLimiter, TokenBucketLimiter
from fraudlens.security.roles import ENDPOINT_PERMISSIONS, ROLE_PERMISSIONS, Permission, Role
from fraudlens.settings import Settings
from ray_apps.admin import AdminContext
from ray_apps.api import create_api

ISS, AUD = "https://idp.bank.example", "fraudlens-api"
HS_SECRET = "h" * 40
KEYS = {role: generate_api_key(f"{role.value}01") for role in Role}
Analyst = Annotated[Principal, Depends(require(Permission.SUBMIT_LABELS))]


@pytest.fixture(scope="module")
def rsa_pair() -> tuple[Any, str]:
    private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    public_pem = (
        private.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )
    return private, public_pem


def _settings(public_pem: str, **extra: Any) -> Settings:
    security: dict[str, Any] = {
        "api_keys": {
            kid: {"role": role.value, "sha256": digest} for role, (kid, _, digest) in KEYS.items()
        },
        "jwt_issuer": ISS,
        "jwt_audience": AUD,
        "jwt_algorithms": ["RS256", "HS256"],
        "jwt_public_key": public_pem,
        "jwt_hs_secret": HS_SECRET,
        **extra,
    }
    return Settings(security=security)


def _token(key: Any, alg: str = "RS256", **claims: Any) -> str:
    body = {"iss": ISS, "aud": AUD, "sub": "user-1", "exp": int(time.time()) + 300, **claims}
    body = {k: v for k, v in body.items() if v is not None}
    return jwt.encode(body, key, algorithm=alg)


DOC_PATHS = {"/docs", "/docs/oauth2-redirect", "/openapi.json", "/redoc"}


@pytest.fixture(scope="module")
def real_app(rsa_pair: tuple[Any, str], tmp_path_factory: pytest.TempPathFactory) -> FastAPI:
    """The real ``create_api`` app, all routes, over fakes (model, features, stores)."""
    tmp = tmp_path_factory.mktemp("matrix")
    service = fake_service()
    service.warm_up()
    admin = AdminContext(
        FileRuleStore(tmp / "rules.json"),
        AuditLog(tmp / "audit.jsonl", fsync=False),
        tmp / "decisions",
        promote=lambda version, override, actor: None,
        erase=lambda customer_id, actor: None,  # type: ignore[arg-type,return-value]
        rules_poll_s=0,
    )
    ctx = fake_api_context(
        service, authenticator=Authenticator.from_settings(_settings(rsa_pair[1])), admin=admin
    )
    return create_api(ctx)


@pytest.fixture(scope="module")
def client(real_app: FastAPI) -> Iterator[AsgiClient]:
    with AsgiClient(real_app) as http:
        yield http


def app_endpoints(app: FastAPI) -> set[tuple[str, str]]:
    """(method, path) of every route the app serves, included routers too, docs excluded."""
    found: set[tuple[str, str]] = set()

    def walk(routes: list[Any], prefix: str) -> None:
        for route in routes:
            inner = getattr(route, "original_router", None)
            if inner is not None:  # FastAPI keeps included routers as one route
                walk(inner.routes, prefix + route.include_context.prefix)
                continue
            path = prefix + route.path
            if path not in DOC_PATHS:
                found.update((m, path) for m in getattr(route, "methods", ()) if m != "HEAD")

    walk(app.routes, "")
    return found


def test_every_route_has_a_permission(real_app: FastAPI) -> None:
    served = app_endpoints(real_app)
    assert served == set(ENDPOINT_PERMISSIONS)
    documented = {
        (method.upper(), path)
        for path, ops in real_app.openapi()["paths"].items()
        for method in ops
    }
    assert documented <= served and ("PUT", "/v1/rules") in documented


def _credentials(kind: str, rsa_private: Any) -> dict[str, str]:
    if kind == "none":
        return {}
    if kind == "bad:key":
        return {"X-API-Key": KEYS[Role.ADMIN][1][:-2] + "xx"}
    if kind == "bad:jwt":
        return {
            "Authorization": f"Bearer {_token(rsa_private, iss='https://evil', roles=['admin'])}"
        }
    if kind.startswith("key:"):
        return {"X-API-Key": KEYS[Role(kind[4:])][1]}
    if kind.startswith("jwt:"):
        return {"Authorization": f"Bearer {_token(rsa_private, roles=[kind[4:]])}"}
    if kind.startswith("hs:"):
        return {"Authorization": f"Bearer {_token(HS_SECRET, 'HS256', roles=kind[3:])}"}
    raise AssertionError(kind)


CALLERS = ["none", "bad:key", "bad:jwt"] + [
    f"{k}:{r.value}" for k in ("key", "jwt", "hs") for r in Role
]


@pytest.mark.parametrize("caller", CALLERS)
@pytest.mark.parametrize("endpoint", sorted(ENDPOINT_PERMISSIONS))
def test_authorization_matrix(
    client: AsgiClient, rsa_pair: tuple[Any, str], endpoint: tuple[str, str], caller: str
) -> None:
    """Every endpoint x every role (API key, RS256 and HS256 JWT) x no or bad credentials.

    Requests carry no body: an allowed caller gets past auth to the handler
    (2xx, or 422 for the missing body), never 401/403 and never a 5xx.
    """
    method, path = endpoint
    response = client.request(method, path, headers=_credentials(caller, rsa_pair[0]))
    permission = ENDPOINT_PERMISSIONS[endpoint]
    code = response.status_code
    if permission is None:
        assert code == 200, response.text
    elif caller == "none" or caller.startswith("bad:"):
        assert code == 401, response.text
        assert "Bearer" in response.headers["WWW-Authenticate"]
    elif permission in ROLE_PERMISSIONS[Role(caller.split(":")[1])]:
        assert code not in (401, 403) and code < 500, response.text
        assert code < 300 or (method != "GET" and code == 422), response.text
    else:
        assert code == 403 and response.json()["error"] == "forbidden", response.text


def test_role_table() -> None:
    assert Permission.SCORE not in ROLE_PERMISSIONS[Role.ANALYST]
    assert Permission.SUBMIT_LABELS not in ROLE_PERMISSIONS[Role.SCORER]
    assert ROLE_PERMISSIONS[Role.ADMIN] == frozenset(Permission)
    assert Principal("a", frozenset({Role.ADMIN}), "jwt").allows(Role.SCORER)
    assert not Principal("s", frozenset({Role.SCORER}), "jwt").allows(Role.ANALYST)


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _handmade(alg: str, secret: bytes | None) -> str:
    """A token PyJWT would refuse to make: alg none, or HS256 keyed with a PEM."""
    body = {"iss": ISS, "aud": AUD, "sub": "x", "exp": int(time.time()) + 300, "roles": ["admin"]}
    head = _b64(json.dumps({"alg": alg, "typ": "JWT"}).encode())
    signing_input = f"{head}.{_b64(json.dumps(body).encode())}"
    mac = hmac.new(secret, signing_input.encode(), hashlib.sha256).digest() if secret else b""
    return f"{signing_input}.{_b64(mac)}"


def _bad_tokens(private: Any, public_pem: str) -> dict[str, str]:
    other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return {
        "expired": _token(private, exp=int(time.time()) - 3600, roles=["admin"]),
        "bad issuer": _token(private, iss="https://evil.example", roles=["admin"]),
        "bad audience": _token(private, aud="someone-else", roles=["admin"]),
        "no expiry": _token(private, exp=None, roles=["admin"]),
        "no subject": _token(private, sub=None, roles=["admin"]),
        "alg none": _handmade("none", None),
        "alg None": _handmade("None", None),
        "hs256 keyed with the public key": _handmade("HS256", public_pem.encode()),
        "other signer": _token(other, roles=["admin"]),
        "wrong hs secret": _token("w" * 40, "HS256", roles=["admin"]),
        "garbage": "not.a.jwt",
    }


def test_bad_tokens_are_refused(rsa_pair: tuple[Any, str]) -> None:
    private, public_pem = rsa_pair
    auth = Authenticator.from_settings(_settings(public_pem))
    for name, token in _bad_tokens(private, public_pem).items():
        with pytest.raises(AuthError) as info:
            auth.authenticate(bearer=token)
        assert not isinstance(info.value, ForbiddenError), name


def test_key_confusion_and_disallowed_algorithms(rsa_pair: tuple[Any, str]) -> None:
    private, public_pem = rsa_pair
    rs_only = Authenticator.from_settings(_settings(public_pem, jwt_algorithms=["RS256"]))
    with pytest.raises(AuthError):  # HS256 not allowed here
        rs_only.authenticate(bearer=_token(HS_SECRET, "HS256", roles=["admin"]))
    # Classic confusion attack: HMAC-sign with the public key; PyJWT refuses to
    # even create it, and the verifier would use the HS secret, not the PEM.
    with pytest.raises(jwt.InvalidKeyError):
        _token(public_pem, "HS256", roles=["admin"])
    ok = rs_only.authenticate(bearer=_token(private, roles="analyst scorer"))
    assert ok.roles == {Role.ANALYST, Role.SCORER} and ok.actor == "jwt:user-1"


def test_api_keys_hashed_and_compared_safely(rsa_pair: tuple[Any, str]) -> None:
    auth = Authenticator.from_settings(_settings(rsa_pair[1]))
    kid, key, _ = KEYS[Role.SCORER]
    assert auth.authenticate(api_key=key).subject == kid
    settings_text = repr(_settings(rsa_pair[1]))
    assert all(k not in settings_text for _, k, _ in KEYS.values())
    for bad in (
        key[:-1] + ("A" if key[-1] != "A" else "B"),
        "fl_nope0000_" + "x" * 43,
        "x",
        key + "x",
    ):
        with pytest.raises(AuthError, match="invalid credentials"):
            auth.authenticate(api_key=bad)
    with pytest.raises(AuthError, match="required"):
        auth.authenticate()


def test_jwt_without_known_role_is_forbidden(rsa_pair: tuple[Any, str]) -> None:
    auth = Authenticator.from_settings(_settings(rsa_pair[1]))
    with pytest.raises(ForbiddenError):
        auth.check(Permission.SCORE, bearer=_token(rsa_pair[0], roles=["superuser"]))


def test_config_errors(rsa_pair: tuple[Any, str]) -> None:
    with pytest.raises(ConfigError, match="32 bytes"):
        Authenticator.from_settings(_settings(rsa_pair[1], jwt_hs_secret="short"))
    with pytest.raises(ConfigError, match="PEM"):
        Authenticator.from_settings(_settings("not a pem"))
    prod = Settings(mode="production", kafka={"bootstrap_servers": "b:9093"})
    with pytest.raises(ConfigError, match="api_keys"):
        Authenticator.from_settings(prod)
    keyed = prod.model_copy(update={"security": _settings(rsa_pair[1]).security})
    with pytest.raises(ConfigError, match="rate_limit_storage"):  # per-replica counts
        Authenticator.from_settings(keyed)


def test_token_bucket() -> None:
    now = [0.0]
    limiter = TokenBucketLimiter(rate=2.0, burst=3, clock=lambda: now[0])
    for _ in range(3):
        limiter.check("a")
    with pytest.raises(RateLimitError) as info:
        limiter.check("a")
    assert info.value.retry_after == pytest.approx(0.5)
    limiter.check("b")  # another caller has its own bucket
    now[0] = 0.5
    limiter.check("a")  # one token back after 1/rate seconds
    with pytest.raises(RateLimitError):
        limiter.check("a")
    now[0] = 100.0
    for _ in range(3):  # refills to the burst, not beyond
        limiter.check("a")
    with pytest.raises(RateLimitError):
        limiter.check("a")


def test_rate_limit_storage_setting_picks_the_limiter(rsa_pair: tuple[Any, str]) -> None:
    auth = Authenticator.from_settings(_settings(rsa_pair[1]))
    assert isinstance(auth._limiter, TokenBucketLimiter)  # memory:// (default): per replica
    shared = _settings(rsa_pair[1], rate_limit_storage="redis://:pass-word@127.0.0.1:1/0")
    assert isinstance(Authenticator.from_settings(shared)._limiter, SharedRateLimiter)
    # A password with "-": never part of the random PEM key beside it in the repr.
    assert "pass-word" not in repr(shared.security)  # the URI may hold a password: a secret
    with pytest.raises(ConfigError, match="rate_limit_storage: unusable storage 'mongo'"):
        SharedRateLimiter("mongo://x", rate=1.0, burst=1)


def test_shared_limiter_fails_open_and_counts_when_redis_is_down(
    caplog: pytest.LogCaptureFixture,
) -> None:
    limiter = SharedRateLimiter("redis://127.0.0.1:1/0", rate=1.0, burst=1)  # nothing listens
    before = REGISTRY.get_sample_value(f"{STORAGE_ERRORS}_total") or 0.0
    with caplog.at_level(logging.WARNING, logger="fraudlens.security.ratelimit"):
        for _ in range(3):
            limiter.check("api_key:a")  # would be limited after one; passes (fail open)
    assert REGISTRY.get_sample_value(f"{STORAGE_ERRORS}_total") == before + 3
    assert [r.getMessage().split(":")[0] for r in caplog.records] == [
        "rate-limit storage unreachable, requests pass unlimited (fail open)"
    ]


def test_rate_limit_returns_429_per_key(rsa_pair: tuple[Any, str]) -> None:
    now = [0.0]
    settings = _settings(rsa_pair[1])
    limiter = TokenBucketLimiter(rate=1.0, burst=2, clock=lambda: now[0])
    app = FastAPI()
    auth = Authenticator(settings.security.api_keys, None, limiter)

    # Locals are invisible to string annotations (PEP 563), so guard via `dependencies`.
    @app.post("/v1/score", dependencies=[Depends(require(Permission.SCORE, auth))])
    async def score() -> dict[str, str]:
        return {"ok": "yes"}

    scorer, admin = KEYS[Role.SCORER][1], KEYS[Role.ADMIN][1]
    with AsgiClient(app) as http:
        codes = [
            http.post("/v1/score", headers={"X-API-Key": scorer}).status_code for _ in range(3)
        ]
        assert codes == [200, 200, 429]
        limited = http.post("/v1/score", headers={"X-API-Key": scorer})
        assert limited.headers["Retry-After"] == "1"
        assert http.post("/v1/score", headers={"X-API-Key": admin}).status_code == 200
        assert http.post("/v1/score").status_code == 401  # no credentials: 401, not 429


def test_unconfigured_app_fails_closed() -> None:
    app = FastAPI()

    @app.get("/v1/model", dependencies=[Depends(require(Permission.READ_MODEL))])
    async def model() -> dict[str, str]:
        return {}

    with AsgiClient(app) as http:
        answer = http.get("/v1/model", headers={"X-API-Key": KEYS[Role.ADMIN][1]})
    assert answer.status_code == 503


def test_principal_is_injected(rsa_pair: tuple[Any, str]) -> None:
    app = FastAPI()
    setattr(app.state, STATE_ATTR, Authenticator.from_settings(_settings(rsa_pair[1])))

    @app.post("/v1/labels")
    async def labels(caller: Analyst) -> dict[str, str]:
        return {"actor": caller.actor}

    with AsgiClient(app) as http:
        response = http.post("/v1/labels", headers={"X-API-Key": KEYS[Role.ANALYST][1]})
    assert response.json() == {"actor": f"api_key:{KEYS[Role.ANALYST][0]}"}
    spec = app.openapi()["components"]["securitySchemes"]
    assert spec["ApiKey"]["name"] == "X-API-Key" and spec["Bearer"]["scheme"] == "bearer"


class KeyTable:
    """The ``KeyLookup`` interface over a dict (the real one is PostgreSQL's ``api_keys``)."""

    def __init__(self) -> None:
        self.entries: dict[str, Any] = {}
        self.down = False
        self.lookups: list[str] = []
        self.touched: list[str] = []

    def lookup(self, key_id: str) -> Any:
        from fraudlens.errors import RecordsError

        self.lookups.append(key_id)
        if self.down:
            raise RecordsError("cannot read the api_keys table: OperationalError")
        return self.entries.get(key_id)

    def touch(self, key_id: str) -> None:
        self.touched.append(key_id)


def test_stored_keys_are_accepted_beside_the_settings_keys() -> None:
    from fraudlens.settings import ApiKeyEntry

    table = KeyTable()
    kid, key, digest = generate_api_key("set01")
    sid, stored_key, stored_digest = generate_api_key("db01")
    table.entries[sid] = ApiKeyEntry(role="analyst", sha256=stored_digest)
    auth = Authenticator({kid: ApiKeyEntry(role="admin", sha256=digest)}, key_store=table)

    assert auth.authenticate(api_key=stored_key) == Principal(
        sid, frozenset({Role.ANALYST}), "api_key"
    )
    assert table.touched == [sid]
    assert auth.authenticate(api_key=key).subject == kid
    assert table.lookups == [sid]  # a settings key is never looked up
    with pytest.raises(AuthError):  # right id, wrong secret
        auth.authenticate(api_key=stored_key[:-1] + ("A" if stored_key[-1] != "A" else "B"))
    with pytest.raises(AuthError):
        auth.authenticate(api_key="not-a-key")
    assert table.lookups == [sid, sid]  # a malformed key is not looked up

    table.down = True  # the database is down: stored keys fail closed, settings keys work
    with pytest.raises(AuthError):
        auth.authenticate(api_key=stored_key)
    assert auth.authenticate(api_key=key).subject == kid
    assert table.touched == [sid]


def test_settings_with_a_records_database_make_a_lazy_key_store() -> None:
    settings = Settings(records={"database_url": "postgresql://nobody@127.0.0.1:1/none"})
    assert Authenticator.from_settings(settings).key_store is not None  # nothing connected yet
    off = settings.model_copy(
        update={"security": settings.security.model_copy(update={"stored_api_keys": False})}
    )
    assert Authenticator.from_settings(off).key_store is None
    assert Authenticator.from_settings(Settings()).key_store is None


def test_a_stored_key_is_looked_up_off_the_event_loop() -> None:
    import threading

    from fraudlens.settings import ApiKeyEntry

    class ThreadedTable(KeyTable):
        def lookup(self, key_id: str) -> Any:
            threads.append(threading.current_thread())
            return super().lookup(key_id)

    threads: list[threading.Thread] = []
    table = ThreadedTable()
    kid, key, digest = generate_api_key("set02")
    sid, stored_key, stored_digest = generate_api_key("db02")
    table.entries[sid] = ApiKeyEntry(role="scorer", sha256=stored_digest)
    auth = Authenticator({kid: ApiKeyEntry(role="scorer", sha256=digest)}, key_store=table)
    assert auth.reads_store(stored_key) and auth.reads_store("fl_nobody_" + "x" * 43)
    assert not auth.reads_store(key) and not auth.reads_store(None)
    assert not auth.reads_store("not-a-key")
    app = FastAPI()

    @app.post("/v1/score", dependencies=[Depends(require(Permission.SCORE, auth))])
    async def score() -> dict[str, str]:
        return {"ok": "yes"}

    with AsgiClient(app) as http:
        assert http.post("/v1/score", headers={"X-API-Key": stored_key}).status_code == 200
        assert http.post("/v1/score", headers={"X-API-Key": key}).status_code == 200
    # The client's event loop runs in this thread: the database lookup ran elsewhere.
    assert len(threads) == 1 and threads[0] is not threading.current_thread()
