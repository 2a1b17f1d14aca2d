"""The workspace's browser security: headers, cookies, form parsing, CSRF checks."""

from __future__ import annotations

import hmac
import secrets
from urllib.parse import parse_qs

from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from fraudlens.errors import ValidationError

SESSION_COOKIE = "fl_ws_session"
LOGIN_COOKIE = "fl_ws_login"  # double-submit CSRF token of the sign-in form (no session yet)
MAX_FORM_BYTES = 16_384

# No script at all, styles only from our own stylesheet, forms post only here.
CSP = (
    "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; "
    "frame-ancestors 'none'; base-uri 'none'"
)
HEADERS = {
    "content-security-policy": CSP,
    "x-content-type-options": "nosniff",
    "x-frame-options": "DENY",
    "referrer-policy": "no-referrer",
    "cache-control": "no-store",
}


class WorkspaceHeaders:
    """ASGI middleware adding ``HEADERS`` to every response under ``prefix``."""

    def __init__(self, app: ASGIApp, prefix: str = "/workspace") -> None:
        self.app = app
        self.prefix = prefix
        self._raw = [(k.encode(), v.encode()) for k, v in HEADERS.items()]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not str(scope["path"]).startswith(self.prefix):
            await self.app(scope, receive, send)
            return

        async def add_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                names = {k.lower() for k, _ in message.get("headers", [])}
                extra = [(k, v) for k, v in self._raw if k not in names]
                message["headers"] = [*message.get("headers", []), *extra]
            await send(message)

        await self.app(scope, receive, add_headers)


async def read_form(request: Request) -> dict[str, str]:
    """The fields of an urlencoded form post (first value of each).

    Raises:
        ValidationError: another content type, a body too large, or not UTF-8.
    """
    kind = request.headers.get("content-type", "").split(";")[0].strip()
    if kind != "application/x-www-form-urlencoded":
        raise ValidationError("content-type", "forms must be application/x-www-form-urlencoded")
    body = await request.body()
    if len(body) > MAX_FORM_BYTES:
        raise ValidationError("$", f"form larger than {MAX_FORM_BYTES} bytes")
    try:
        fields = parse_qs(body.decode(), keep_blank_values=True, strict_parsing=False)
    except UnicodeDecodeError:
        raise ValidationError("$", "form is not UTF-8") from None
    return {name: values[0] for name, values in fields.items()}


def new_token() -> str:
    """A fresh random token (CSRF of the sign-in form)."""
    return secrets.token_urlsafe(32)


def same_token(a: str | None, b: str | None) -> bool:
    """Constant-time comparison of two tokens; False when either is missing."""
    return bool(a) and bool(b) and hmac.compare_digest(str(a), str(b))


def set_cookie(response: Response, name: str, value: str, secure: bool, max_age: int) -> None:
    """A cookie scripts cannot read, sent only to this site's workspace."""
    response.set_cookie(
        name,
        value,
        max_age=max_age,
        path="/workspace",
        secure=secure,
        httponly=True,
        samesite="strict",
    )
