"""JSON request bodies validated in one pydantic-core pass over the raw bytes.

FastAPI reads a body model in two steps: ``json.loads`` builds Python
objects, then the model validates them. For a 1,000-transaction batch the
first step alone is a few milliseconds and as many thousand short-lived
objects. ``JsonBody`` validates the raw bytes with ``model_validate_json``
instead (one pass, in Rust) when the body is ``application/json``.

Answers stay what FastAPI gave, in the same order: a body that is not JSON
gets its 400 before authentication; anything the one pass refuses is read
again the way FastAPI reads it (``json.loads``, then the model), so each
refused body gets the same 4xx with the same fields and messages as before.
The route declares its body for the OpenAPI document with
``request_body_doc``.

Use::

    batch_body = JsonBody(BatchScoreRequest)

    @app.post("/v1/score/batch", dependencies=[Depends(batch_body.read), *guard],
              openapi_extra=request_body_doc(BatchScoreRequest))
    async def score_batch(body: Annotated[BatchScoreRequest, Depends(batch_body)]): ...
"""

from __future__ import annotations

import email.message
import json
from typing import Any, Generic, TypeVar

import pydantic
from fastapi import FastAPI, Request
from fastapi.exceptions import HTTPException, RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException

M = TypeVar("M", bound=pydantic.BaseModel)

_STATE = "fraudlens_json_body"


def _is_json(content_type: str | None) -> bool:
    """FastAPI's test: ``application/json`` or ``application/*+json`` (no header: not JSON)."""
    if not content_type:
        return False
    if content_type == "application/json":
        return True
    message = email.message.Message()
    message["content-type"] = content_type
    if message.get_content_maintype() != "application":
        return False
    subtype = message.get_content_subtype()
    return subtype == "json" or subtype.endswith("+json")


class JsonBody(Generic[M]):
    """A route's body as ``model``: ``read`` is a route dependency, the instance the parameter's.

    Args:
        model: the body's pydantic model.
    """

    def __init__(self, model: type[M]) -> None:
        self.model = model

    async def read(self, request: Request) -> None:
        """Read and validate the body; a body that is not JSON is refused here (400).

        Runs before the authentication dependency, as FastAPI's own body
        parsing does; validation errors wait for ``__call__`` (after it).
        """
        try:
            raw = await request.body()
        except StarletteHTTPException:  # the body limit's 413
            raise
        except Exception as exc:  # a client gone mid-body, ...: FastAPI's answer
            raise HTTPException(400, "There was an error parsing the body") from exc
        json_type = _is_json(request.headers.get("content-type"))
        outcome: Any
        if raw and json_type:
            try:
                outcome = self.model.model_validate_json(raw)
            except pydantic.ValidationError:
                outcome = self._validate(self._loads(raw))
        else:
            # FastAPI validates the raw bytes of a non-JSON body (and refuses them).
            outcome = self._validate(raw) if raw else _missing()
        request.scope[_STATE] = outcome

    async def __call__(self, request: Request) -> M:
        """The validated body (``read`` ran first).

        Raises:
            RequestValidationError: the errors FastAPI would report, ``body.`` first.
        """
        outcome = request.scope.pop(_STATE)
        if isinstance(outcome, RequestValidationError):
            raise outcome
        body: M = outcome
        return body

    @staticmethod
    def _loads(raw: bytes) -> Any:
        try:
            return json.loads(raw)
        except json.JSONDecodeError as exc:
            error = {
                "type": "json_invalid",
                "loc": ("body", exc.pos),
                "msg": "JSON decode error",
                "input": {},
                "ctx": {"error": exc.msg},
            }
            raise RequestValidationError([error], body=exc.doc) from exc
        except Exception as exc:  # not UTF-8, ...
            raise HTTPException(400, "There was an error parsing the body") from exc

    def _validate(self, data: Any) -> M | RequestValidationError:
        try:
            # As FastAPI validates a body field (a non-object's error names attributes).
            return self.model.model_validate(data, from_attributes=True)
        except pydantic.ValidationError as exc:
            errors = [
                {**error, "loc": ("body", *error["loc"])} for error in exc.errors(include_url=False)
            ]
            return RequestValidationError(errors, body=data)


def _missing() -> RequestValidationError:
    error = {"type": "missing", "loc": ("body",), "msg": "Field required", "input": None}
    return RequestValidationError([error])


def request_body_doc(model: type[pydantic.BaseModel]) -> dict[str, Any]:
    """The ``openapi_extra`` of a route whose body a ``JsonBody`` reads (the model is
    added to the document's components by ``add_body_schemas``)."""
    ref = {"$ref": f"#/components/schemas/{model.__name__}"}
    return {"requestBody": {"content": {"application/json": {"schema": ref}}, "required": True}}


def add_body_schemas(openapi: dict[str, Any], *models: type[pydantic.BaseModel]) -> None:
    """Put the schemas of ``models`` (and the ones they use) in ``openapi``'s components.

    Written by FastAPI itself, the way it writes a declared body: taken from a
    throwaway app whose routes take these models as their bodies.
    """
    shadow = FastAPI()
    for model in models:

        async def endpoint(body: Any) -> None:
            return None

        endpoint.__annotations__ = {"body": model, "return": None}
        shadow.post(f"/{model.__name__}")(endpoint)
    components = openapi.setdefault("components", {}).setdefault("schemas", {})
    for name, definition in shadow.openapi()["components"]["schemas"].items():
        if name not in {"HTTPValidationError", "ValidationError"}:  # the shadow's 422 body
            components.setdefault(name, definition)
    openapi["components"]["schemas"] = dict(sorted(components.items()))
