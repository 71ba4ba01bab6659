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

import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from .engine import Request as EngineRequest
from .exceptions import (
    EngineStoppedError,
    InferenceError,
    PromptTooLongError,
    QueueFullError,
    RequestRejectedError,
)
from .protocol import ChatCompletionRequest, TokenizeRequest
from .reasoning import ReasoningSplitter
from .sampling import SamplingParams
from .service import InferenceService
from .sse import BodyLimit, WatchedResponse, dumps, error_body


def _params(body: ChatCompletionRequest, service: InferenceService) -> SamplingParams:
    config = service.config
    loaded = service.loaded
    temperature = loaded.default_temperature if loaded else 1.0
    top_p = loaded.default_top_p if loaded else 1.0
    asked = body.requested_max_tokens()
    max_tokens = min(asked or config.default_max_tokens, config.max_tokens_limit)
    return SamplingParams(
        max_tokens=max_tokens,
        temperature=temperature if body.temperature is None else body.temperature,
        top_p=top_p if body.top_p is None else body.top_p,
        stop=body.stop_list(),
        seed=body.seed,
    )


def _submit(service: InferenceService, body: ChatCompletionRequest) -> EngineRequest:
    engine = service.require_engine()
    ids = service.encode_chat(body.messages, body.chat_template_kwargs)
    return engine.submit(ids, _params(body, service))


def _usage(request: EngineRequest, completion: int) -> dict[str, int]:
    return {
        "prompt_tokens": request.prompt_tokens,
        "completion_tokens": completion,
        "total_tokens": request.prompt_tokens + completion,
    }


async def _stream(
    service: InferenceService, body: ChatCompletionRequest, request: EngineRequest
) -> AsyncIterator[bytes]:
    head = {
        "id": f"chatcmpl-{uuid.uuid4().hex}",
        "object": "chat.completion.chunk",
        "created": int(time.time()),
        "model": service.model_name,
    }

    def chunk(delta: dict[str, Any], finish: str | None = None) -> bytes:
        choice = {"index": 0, "delta": delta, "finish_reason": finish}
        return b"data: " + dumps({**head, "choices": [choice]}) + b"\n\n"

    # Content deltas are most of the traffic: only their text is encoded per chunk.
    before, after = chunk({"content": ""}).split(b'""', 1)

    def content(text: str) -> bytes:
        return before + dumps(text) + after

    splitter = ReasoningSplitter() if body.separate_reasoning else None
    yield chunk({"role": "assistant", "content": ""})
    completion = 0
    finish = "stop"
    async for event in request.stream():
        completion = event.completion_tokens
        parts: list[tuple[str, str]] = []
        if splitter is None:
            parts.append(("", event.text))
        else:
            parts.append(splitter.feed(event.text))
            if event.finish_reason is not None:
                parts.append(splitter.flush())
        for reasoning, text in parts:
            if reasoning:
                yield chunk({"reasoning_content": reasoning})
            if text:
                yield content(text)
        if event.finish_reason is not None:
            finish = event.finish_reason
            if event.error is not None and finish == "error":
                yield (
                    b"data: " + dumps(error_body(event.error, "server_error")) + b"\n\n"
                )
                return
    yield chunk({}, finish)
    if body.stream_options is not None and body.stream_options.include_usage:
        usage = {**head, "choices": [], "usage": _usage(request, completion)}
        yield b"data: " + dumps(usage) + b"\n\n"
    yield b"data: [DONE]\n\n"


async def _collect(
    service: InferenceService, body: ChatCompletionRequest, request: EngineRequest
) -> dict[str, Any]:
    texts: list[str] = []
    completion, finish = 0, "stop"
    async for event in request.stream():
        texts.append(event.text)
        completion = event.completion_tokens
        if event.finish_reason is not None:
            finish = event.finish_reason
            if finish == "error":
                raise InferenceError(event.error or "generation failed")
    message: dict[str, Any] = {"role": "assistant", "content": "".join(texts)}
    if body.separate_reasoning:
        splitter = ReasoningSplitter()
        reasoning, content = splitter.feed(message["content"])
        tail_reasoning, tail_content = splitter.flush()
        message["content"] = content + tail_content
        message["reasoning_content"] = (reasoning + tail_reasoning) or None
    return {
        "id": f"chatcmpl-{uuid.uuid4().hex}",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": service.model_name,
        "choices": [{"index": 0, "message": message, "finish_reason": finish}],
        "usage": _usage(request, completion),
    }


def _validation_error(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    first = exc.errors()[0] if exc.errors() else {}
    where = [str(p) for p in first.get("loc", ()) if p != "body"]
    field = ".".join(where) or "body"
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
        request = _submit(service, body)
        if body.stream:
            return WatchedResponse(
                stream=_stream(service, body, request), on_close=request.cancel
            )
        return WatchedResponse(
            result=_collect(service, body, request), on_close=request.cancel
        )

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
