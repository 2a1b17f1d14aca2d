"""Error bodies and the request-size limit of the API.

Error bodies name the field and never echo the input: a PAN sent in the wrong
place must not come back in a response or a log line.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from typing import Any

from fastapi import Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ray_apps.schemas import ErrorDetail, ErrorResponse


def error_response(
    status: int,
    error: str,
    message: str,
    field: str | None = None,
    errors: Sequence[ErrorDetail] = (),
) -> JSONResponse:
    """A JSON error body (``ErrorResponse``)."""
    body = ErrorResponse(error=error, field=field, message=message, errors=list(errors))
    return JSONResponse(body.model_dump(), status_code=status)


def _field(loc: Sequence[Any]) -> str:
    parts = [str(p) for p in loc[1:]] if loc and loc[0] == "body" else [str(p) for p in loc]
    return ".".join(parts) or "$"


async def validation_error_response(request: Request, exc: Exception) -> JSONResponse:
    """FastAPI's validation errors as 422 (400 for unparsable JSON), field named."""
    assert isinstance(exc, RequestValidationError)
    details = []
    for err in exc.errors():
        kind = err.get("type", "")
        if kind == "json_invalid":
            return error_response(400, "invalid_json", "the body is not valid JSON", "$")
        message = str(err.get("msg", "invalid")).removeprefix("Value error, ")
        loc = err.get("loc", ())
        if kind == "missing":
            message = "request body is required" if tuple(loc) == ("body",) else "field is required"
        elif kind == "extra_forbidden":
            message = "unknown field"
        details.append(ErrorDetail(field=_field(loc), message=message))
    first = details[0] if details else ErrorDetail(field="$", message="invalid request")
    return error_response(422, "invalid_request", first.message, first.field, details)


_KINDS = {
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    413: "payload_too_large",
    429: "rate_limited",
    503: "unavailable",
}


async def http_error_response(request: Request, exc: Exception) -> JSONResponse:
    """Starlette/FastAPI HTTP errors (404, 405, 413...) in the common error shape."""
    assert isinstance(exc, StarletteHTTPException)
    kind = _KINDS.get(exc.status_code, "http_error")
    field = "$" if exc.status_code == 413 else None
    response = error_response(exc.status_code, kind, str(exc.detail), field)
    response.headers.update(exc.headers or {})  # WWW-Authenticate, Retry-After
    if exc.status_code == 405:
        # Starlette lists only the first matching route's methods (GET of GET+PUT).
        ops = request.app.openapi().get("paths", {}).get(request.url.path)
        if ops:
            response.headers["Allow"] = ", ".join(sorted(m.upper() for m in ops))
    return response


def body_limit(max_bytes: int) -> Callable[[ASGIApp], ASGIApp]:
    """ASGI middleware factory: bodies over ``max_bytes`` get 413 before parsing.

    Checks ``Content-Length`` up front and counts streamed (chunked) bodies.
    """

    def factory(app: ASGIApp) -> ASGIApp:
        async def middleware(scope: Scope, receive: Receive, send: Send) -> None:
            if scope["type"] != "http":
                await app(scope, receive, send)
                return
            for name, value in scope.get("headers", ()):
                if name == b"content-length" and value.isdigit() and int(value) > max_bytes:
                    await _reject(send, max_bytes)
                    return
            seen = 0

            async def limited_receive() -> Message:
                nonlocal seen
                message = await receive()
                if message["type"] == "http.request":
                    seen += len(message.get("body", b""))
                    if seen > max_bytes:
                        # Raised inside body parsing: FastAPI passes HTTPException through.
                        raise StarletteHTTPException(
                            413, f"request body larger than {max_bytes} bytes"
                        )
                return message

            await app(scope, limited_receive, send)

        return middleware

    return factory


async def _reject(send: Send, max_bytes: int) -> None:
    body = json.dumps(
        ErrorResponse(
            error="payload_too_large",
            field="$",
            message=f"request body larger than {max_bytes} bytes",
        ).model_dump()
    ).encode()
    await send(
        {
            "type": "http.response.start",
            "status": 413,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
