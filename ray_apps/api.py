"""The scoring API (FastAPI), the same app under Ray Serve and under plain uvicorn.

``create_api`` takes a ready ``ApiContext``; the Serve deployment builds one in
each replica, the benchmark's bare app builds one in-process. Every bad
request gets a 4xx naming the field; a dependency failure degrades the answer
instead of failing it.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Depends, FastAPI, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from pydantic_core import to_json
from starlette.exceptions import HTTPException as StarletteHTTPException

from fraudlens.errors import BrokerError, ConfigError, TokenizationError, ValidationError
from fraudlens.schema import Transaction, check_limits, validated_transaction
from fraudlens.scoring.batcher import MicroBatcher
from fraudlens.scoring.metrics import ServingMetrics
from fraudlens.scoring.result import ScoreResult
from fraudlens.scoring.service import NotReadyError, ScoringService
from fraudlens.security.api import require
from fraudlens.security.auth import Authenticator
from fraudlens.security.roles import Permission
from fraudlens.security.tokenize import Tokenizer, normalize_pan
from fraudlens.settings import Settings, ValidationSettings
from fraudlens.workspace.web import WorkspaceContext, mount_workspace
from ray_apps.admin import AdminContext, admin_router
from ray_apps.body import JsonBody, add_body_schemas, request_body_doc
from ray_apps.errors import (
    body_limit,
    error_response,
    http_error_response,
    validation_error_response,
)
from ray_apps.labels import LabelPublisher
from ray_apps.metrics import add_metrics
from ray_apps.schemas import (
    BatchScoreRequest,
    BatchScoreResponse,
    ErrorResponse,
    LabelsRequest,
    LabelsResponse,
    ModelInfo,
    ScoreRequest,
    ScoreResponse,
)

logger = logging.getLogger(__name__)

API_VERSION = "1"
_ERRORS: dict[int | str, dict[str, Any]] = {
    code: {"model": ErrorResponse} for code in (400, 401, 403, 413, 422, 429, 503)
}

# Scoring bodies validated in one pass over the raw bytes (ray_apps.body): each route
# reads its body (``.read``, before the guard) and takes it as its parameter.
_SINGLE, _BATCH = JsonBody(ScoreRequest), JsonBody(BatchScoreRequest)
SingleBody = Annotated[ScoreRequest, Depends(_SINGLE)]
BatchBody = Annotated[BatchScoreRequest, Depends(_BATCH)]


@dataclass
class ApiContext:
    """Everything the routes need.

    Attributes:
        service: the scoring service (model loaded by the caller).
        tokenizer: turns PANs into card tokens at the edge.
        validation: amount and clock-skew limits of the schema.
        labels: publisher for ``/v1/labels`` (None: answers 503).
        authenticator: API key / JWT checks, roles and rate limits (None: open).
        micro_batch_rows: concurrent single-transaction requests are scored
            together, up to this many rows (1 turns micro-batching off).
        max_body_bytes: larger bodies get 413.
        max_batch_size: most transactions per batch call.
        metrics: request metrics (default: the service's metrics).
    """

    service: ScoringService
    tokenizer: Tokenizer
    validation: ValidationSettings
    labels: LabelPublisher | None = None
    max_body_bytes: int = 1_000_000
    max_batch_size: int = 1000
    authenticator: Authenticator | None = None
    micro_batch_rows: int = 64
    metrics: ServingMetrics | None = None
    admin: AdminContext | None = None  # decisions, promotion, rules, erasure, audit (None: 503)
    workspace: WorkspaceContext | None = None  # the analyst workspace under /workspace (None: off)


def authenticator_for(settings: Settings) -> Authenticator | None:
    """API keys / JWT checks, or None for an embedded demo with no credentials set.

    Production mode always authenticates (and refuses to start without keys).
    """
    sec = settings.security
    if settings.mode == "production" or sec.api_keys or sec.jwt_issuer:
        return Authenticator.from_settings(settings)
    logger.warning("no API credentials configured: the scoring API is open (embedded demo)")
    return None


def to_transaction(req: ScoreRequest, ctx: ApiContext, field_prefix: str = "") -> Transaction:
    """Tokenize the PAN (if any), apply the configured limits and make the ``Transaction``.

    ``req`` passed every check of ``Transaction`` already (``ScoreRequest``
    extends it, validators included): its values are used as they are,
    never validated a second time (``validated_transaction``).

    Raises:
        ValidationError: naming the offending field (a bad PAN is ``pan``).
    """
    values = dict(vars(req))
    secret = values.pop("pan")
    if secret is not None:
        try:
            pan = secret.get_secret_value()
            values["card_token"] = ctx.tokenizer.tokenize(pan)
            last4 = normalize_pan(pan)[-4:]
        except TokenizationError as exc:  # the message never holds the number
            raise ValidationError(f"{field_prefix}pan", str(exc)) from None
        if values["card_last4"] is None:
            values["card_last4"] = last4
        elif values["card_last4"] != last4:
            raise ValidationError(f"{field_prefix}card_last4", "does not end the card number sent")
    txn = validated_transaction(values)
    try:
        check_limits(
            txn,
            max_amount=ctx.validation.max_amount,
            max_future_seconds=ctx.validation.max_future_seconds,
        )
    except ValidationError as exc:
        raise ValidationError(field_prefix + exc.field, exc.reason) from None
    return txn


def to_response(result: ScoreResult, latency_ms: float) -> dict[str, Any]:
    """The public view of a result (no features, no card data): ``ScoreResponse``'s fields.

    A plain dict, serialized once with the whole answer (``_json_answer``):
    the values come from the scoring code, there is nothing to validate.
    """
    return {
        "transaction_id": result.transaction_id,
        "decision_id": result.decision_id,
        "score": None if result.score is None else round(result.score, 6),
        "decision": result.decision,
        "reasons": result.reasons,
        "model_version": result.model_version,
        "latency_ms": round(latency_ms, 3),
        "degraded": result.degraded,
        "degraded_cause": result.degraded_cause,
    }


def _json(model: Any, status: int = 200) -> Response:
    # Serialize once with pydantic-core; skips FastAPI's re-validation of the return value.
    return Response(model.model_dump_json(), status_code=status, media_type="application/json")


def _json_answer(answer: dict[str, Any]) -> Response:
    # One pydantic-core pass over the whole answer (the reasons are models), the same
    # JSON as ScoreResponse / BatchScoreResponse.model_dump_json; no model built per row.
    return Response(to_json(answer), media_type="application/json")


def create_api(ctx: ApiContext) -> FastAPI:
    """Build the FastAPI app over a context (see module docstring)."""
    app = FastAPI(
        title="FraudLens scoring API",
        version=API_VERSION,
        description="Real-time card-fraud scores, decisions and reasons.",
        docs_url="/docs",
    )
    app.add_middleware(body_limit(ctx.max_body_bytes))
    add_metrics(app, ctx.metrics or ctx.service.metrics)  # outermost: counts 413s too
    batcher = MicroBatcher(ctx.service, ctx.micro_batch_rows)

    def guard(need: Permission) -> list[Any]:
        return [Depends(require(need, ctx.authenticator))] if ctx.authenticator else []

    app.add_exception_handler(RequestValidationError, validation_error_response)
    app.add_exception_handler(StarletteHTTPException, http_error_response)

    @app.exception_handler(ValidationError)
    async def _invalid(request: Request, exc: ValidationError) -> JSONResponse:
        return error_response(422, "invalid_request", exc.reason, exc.field)

    @app.exception_handler(BrokerError)
    async def _unrecorded(request: Request, exc: BrokerError) -> JSONResponse:
        logger.error("decisions not recorded: %s", exc)
        return error_response(
            503, "decision_not_recorded", "the decisions topic did not acknowledge; retry"
        )

    @app.exception_handler(NotReadyError)
    async def _not_ready(request: Request, exc: NotReadyError) -> JSONResponse:
        return error_response(503, "not_ready", str(exc))

    @app.post(
        "/v1/score",
        response_model=ScoreResponse,
        responses=_ERRORS,
        tags=["scoring"],
        dependencies=[Depends(_SINGLE.read), *guard(Permission.SCORE)],
        openapi_extra=request_body_doc(ScoreRequest),
    )
    async def score(body: SingleBody) -> Response:
        """Score one transaction: fraud probability, decision and reasons."""
        start = time.perf_counter()
        txn = to_transaction(body, ctx)
        (result,) = await batcher.score([txn])
        return _json_answer(to_response(result, (time.perf_counter() - start) * 1000))

    @app.post(
        "/v1/score/batch",
        response_model=BatchScoreResponse,
        responses=_ERRORS,
        tags=["scoring"],
        dependencies=[Depends(_BATCH.read), *guard(Permission.SCORE)],
        openapi_extra=request_body_doc(BatchScoreRequest),
    )
    async def score_batch(body: BatchBody) -> Response:
        """Score many transactions in one call (results in request order)."""
        start = time.perf_counter()
        if len(body.transactions) > ctx.max_batch_size:
            return error_response(
                413,
                "batch_too_large",
                f"{len(body.transactions)} transactions; at most {ctx.max_batch_size} per call",
                "transactions",
            )
        txns = [
            to_transaction(t, ctx, f"transactions.{i}.") for i, t in enumerate(body.transactions)
        ]
        results = await ctx.service.ascore(txns)
        latency = (time.perf_counter() - start) * 1000
        return _json_answer(
            {
                "results": [to_response(r, latency) for r in results],
                "model_version": results[0].model_version,
                "latency_ms": round(latency, 3),
                "degraded": any(r.degraded for r in results),
            }
        )

    @app.post(
        "/v1/labels",
        response_model=LabelsResponse,
        status_code=202,
        responses=_ERRORS,
        tags=["feedback"],
        dependencies=guard(Permission.SUBMIT_LABELS),
    )
    async def labels(body: LabelsRequest) -> Response:
        """Publish confirmed outcomes to the labels topic (202 once acknowledged)."""
        if ctx.labels is None:
            return error_response(503, "labels_unavailable", "no labels topic configured")
        try:
            await run_in_threadpool(ctx.labels.publish, body.labels)
        except (BrokerError, ConfigError) as exc:
            logger.warning("label publish failed: %s", exc)
            return error_response(503, "labels_unavailable", "the labels topic is unavailable")
        return _json(LabelsResponse(accepted=len(body.labels), topic=ctx.labels.topic), 202)

    @app.get(
        "/v1/model",
        response_model=ModelInfo,
        responses=_ERRORS,
        tags=["model"],
        dependencies=guard(Permission.READ_MODEL),
    )
    async def model() -> Response:
        """The model version, thresholds, rules and feature service in use."""
        return _json(ModelInfo.model_validate(ctx.service.info()))

    app.include_router(admin_router(ctx))
    if ctx.workspace is not None:
        if ctx.admin is not None:  # admins manage the API's rules from the workspace too
            ctx.workspace.rules = ctx.admin.rule_admin()
        ctx.workspace.features = ctx.service.features  # the case page's stored history
        mount_workspace(app, ctx.workspace)

    document = app.openapi

    def openapi() -> dict[str, Any]:
        fresh = app.openapi_schema is None
        schema = document()  # built once, then cached by FastAPI
        if fresh:  # the bodies read by JsonBody join its components
            add_body_schemas(schema, ScoreRequest, BatchScoreRequest)
        return schema

    app.openapi = openapi  # type: ignore[method-assign]

    @app.get("/healthz", tags=["health"])
    async def healthz() -> dict[str, str]:
        """Liveness: the process answers."""
        return {"status": "ok"}

    @app.get("/readyz", tags=["health"], responses=_ERRORS)
    async def readyz() -> Response:
        """Readiness: a model is loaded and warmed up; ``features`` says if the store answers.

        A replica whose store was down at warm-up is still ready (its degraded
        answers are right during an outage): ``features`` then says why.
        """
        if not ctx.service.ready:
            return error_response(503, "not_ready", "no model loaded yet")
        if not ctx.service.warmed:
            return error_response(503, "not_ready", "warming up")
        version = ctx.service.active.model.version
        return JSONResponse(
            {"status": "ready", "model_version": version, "features": ctx.service.readiness()}
        )

    return app
