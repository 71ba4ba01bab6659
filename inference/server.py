"""The OpenAI-compatible HTTP app.

Routes: POST /v1/chat/completions (stream and not), GET /v1/models,
POST /v1/tokenize, GET /health, GET /ready, GET /metrics. `create_app(service)`
builds the app; it relies on no lifespan unless asked (`manage_lifespan=True`, used
by the standalone server), so the bot can mount it under `/inference` and call
`start()` / `stop()` itself.

Every response body that generates tokens watches the connection: when the client
goes away the request is cancelled at once, and the model thread drops its row
before the next decode step (see `sse.py`).
"""

from __future__ import annotations

import functools
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from . import completions
from .exceptions import (
    EngineStoppedError,
    InferenceError,
    PromptTooLongError,
    QueueFullError,
    RequestRejectedError,
)
from .protocol import ChatCompletionRequest, TokenizeRequest
from .service import InferenceService
from .sse import BodyLimit, WatchedResponse, error_body


def _validation_error(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    first = exc.errors()[0] if exc.errors() else {}
    where = [str(p) for p in first.get("loc", ()) if p != "body"]
    # Checks across fields say which field they are about: "Value error, n: ...".
    named = re.match(r"Value error, (\w+): ", str(first.get("msg", "")))
    field = ".".join(where) or (named.group(1) if named else "body")
    if first.get("type") == "extra_forbidden":
        message = f"unsupported field {field!r}"
    else:
        message = f"invalid field {field!r}: {first.get('msg', 'invalid value')}"
    return JSONResponse(error_body(message, "invalid_request_error", field), 400)


def _inference_error(_: Request, exc: Exception) -> JSONResponse:
    if isinstance(exc, PromptTooLongError):
        body = error_body(str(exc), "invalid_request_error", "messages")
        body["error"]["code"] = "context_length_exceeded"
        return JSONResponse(body, 400)
    if isinstance(exc, RequestRejectedError):
        return JSONResponse(error_body(str(exc), "invalid_request_error"), 400)
    if isinstance(exc, EngineStoppedError | QueueFullError):
        return JSONResponse(error_body(str(exc), "service_unavailable"), 503)
    return JSONResponse(error_body(str(exc), "server_error"), 500)


def create_app(service: InferenceService, *, manage_lifespan: bool = False) -> FastAPI:
    """The HTTP app over `service`; with `manage_lifespan` it starts/stops it too."""

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        await service.start()
        try:
            yield
        finally:
            await service.stop()

    app = FastAPI(
        title="FreeChat inference",
        lifespan=lifespan if manage_lifespan else None,
    )
    app.state.service = service
    app.add_middleware(BodyLimit, limit=service.config.max_body_bytes)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(InferenceError, _inference_error)

    @app.post("/v1/chat/completions", response_model=None)
    async def chat_completions(body: ChatCompletionRequest) -> Response:
        choices = completions.start(service, body)
        close = functools.partial(completions.cancel_all, choices)
        if body.stream:
            stream = completions.stream_chunks(service, body, choices)
            return WatchedResponse(stream=stream, on_close=close)
        result = completions.collect(service, body, choices)
        return WatchedResponse(result=result, on_close=close)

    @app.post("/v1/tokenize")
    async def tokenize(body: TokenizeRequest) -> dict[str, Any]:
        if body.messages is not None:
            ids = service.encode_chat(
                body.messages,
                body.chat_template_kwargs,
                add_generation_prompt=body.add_generation_prompt,
            )
        else:
            ids = service.encode_text(body.text or "")
        return {
            "count": len(ids),
            "max_model_len": service.config.max_prompt_tokens,
            "model": service.model_name,
        }

    @app.get("/v1/models")
    async def models() -> dict[str, Any]:
        card = {
            "id": service.model_name,
            "object": "model",
            "created": 0,
            "owned_by": "freechat",
            "demo": service.is_demo,
        }
        return {"object": "list", "data": [card]}

    @app.get("/health")
    async def health() -> dict[str, Any]:
        state = "ok" if service.ready else "error" if service.load_error else "loading"
        return {"status": state, "model": service.model_name, "demo": service.is_demo}

    @app.get("/ready")
    async def ready() -> JSONResponse:
        body = {"ready": service.ready, "model": service.model_name}
        return JSONResponse(body, 200 if service.ready else 503)

    @app.get("/metrics")
    async def metrics() -> Response:
        return Response(
            generate_latest(service.registry), media_type=CONTENT_TYPE_LATEST
        )

    return app
