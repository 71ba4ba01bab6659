"""The NoneBot adapter behind ``POST /v1/chat/completions``.

The HTTP handler turns the request into a :class:`ChatCompletionEvent` and lets
NoneBot handle it; the chat plugin runs the chain and calls our deliverer, which
hands the reply stream back to the handler. The handler streams it as SSE (or
collects it), and a client that goes away cancels the stream, which closes the
upstream model request.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import logging
import time
import uuid
from collections.abc import AsyncIterator
from typing import Any

import nonebot
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, StreamingResponse
from nonebot.adapters import Adapter as BaseAdapter
from nonebot.adapters import Bot as BaseBot
from nonebot.drivers import Driver
from pydantic import ValidationError
from typing_extensions import override

from bot.auth import AuthError, user_for_api_token
from bot.context import ChatContext, PromptMessage
from bot.dispatch import dispatch as handle_event
from bot.http_guard import body_limit
from bot.metrics import MESSAGES_OUT
from bot.platform import Platform, register_platform
from bot.runtime import get_runtime

from .event import ChatCompletionEvent
from .protocol import ChatRequest, error_body

log = logging.getLogger(__name__)

PATH = "/v1/chat/completions"
HANDOFF_TIMEOUT = 60.0
MAX_BODY = 4 << 20
MAX_USER_IN_KEY = 64


class Bot(BaseBot):
    @override
    async def send(self, event: Any, message: Any, **kwargs: Any) -> Any:
        """Plain matchers (e.g. ``/reset``) answer a request with a fixed text."""
        if isinstance(event, ChatCompletionEvent) and event._handoff is not None:
            from bot.context import text_stream

            if not event._handoff.done():
                ctx = ChatContext(
                    platform="openai", user_id=event.user, text=event.text
                )
                ctx.reply = text_stream(str(message))
                event._handoff.set_result(ctx)


class Adapter(BaseAdapter):
    @override
    def __init__(self, driver: Driver, **kwargs: Any) -> None:
        super().__init__(driver, **kwargs)
        self.bot = Bot(self, "openai")
        self.tasks: set[asyncio.Task[Any]] = set()
        app: FastAPI = nonebot.get_app()
        app.add_api_route(PATH, self.chat_completions, methods=["POST"])
        body_limit(PATH, MAX_BODY)  # refused while read, not after
        register_platform(
            Platform(
                adapter=self.get_name(),
                context_factory=self._context,
                deliver=self._deliver,
                style="stream",
            )
        )
        driver.on_startup(self._startup)
        driver.on_shutdown(self._shutdown)

    @classmethod
    @override
    def get_name(cls) -> str:
        return "OpenAI"

    @override
    async def _call_api(self, bot: Any, api: str, **data: Any) -> Any:
        raise NotImplementedError("the OpenAI front door has no API")

    async def _startup(self) -> None:
        self.bot_connect(self.bot)

    async def _shutdown(self) -> None:
        for task in list(self.tasks):
            task.cancel()
        if self.tasks:
            await asyncio.wait(self.tasks, timeout=5)

    async def chat_completions(self, request: Request) -> Any:
        header = request.headers.get("authorization", "")
        token = header[7:].strip() if header.lower().startswith("bearer ") else ""
        try:
            user = await user_for_api_token(token)
        except AuthError:
            return JSONResponse(
                error_body(
                    "Invalid API key.", "invalid_request_error", "invalid_api_key"
                ),
                status_code=401,
            )
        raw = await request.body()
        if len(raw) > MAX_BODY:
            return JSONResponse(
                error_body("Request body too large.", "invalid_request_error"), 413
            )
        try:
            # json, not pydantic's parser: that one refuses a lone surrogate, which
            # the model's validator replaces like every platform's text
            body = ChatRequest.model_validate(json.loads(raw))
        except ValidationError as exc:
            err = exc.errors()[0]
            where = ".".join(str(p) for p in err["loc"])
            return JSONResponse(
                error_body(f"{where}: {err['msg']}", "invalid_request_error"), 400
            )
        except (ValueError, RecursionError):
            return JSONResponse(
                error_body("The body is not valid JSON.", "invalid_request_error"), 400
            )
        *earlier, last = body.messages
        if last.role != "user" or not last.text().strip():
            return JSONResponse(
                error_body(
                    "The last message must be a non-empty user message.",
                    "invalid_request_error",
                ),
                400,
            )
        event = ChatCompletionEvent(
            user=user.name,
            session=session_key(user.name, body.user),
            request_id=f"chatcmpl-{uuid.uuid4().hex[:24]}",
            text=last.text(),
        )
        loop = asyncio.get_running_loop()
        event._handoff = loop.create_future()
        event._done = asyncio.Event()
        event._request = (body, earlier)
        task = asyncio.create_task(handle_event(self.bot, event))
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)
        task.add_done_callback(lambda _: _fail_handoff(event))
        try:
            ctx: ChatContext | None = await asyncio.wait_for(
                asyncio.shield(event._handoff), HANDOFF_TIMEOUT
            )
        except TimeoutError:
            ctx = None
        if ctx is None:
            event._done.set()
            return JSONResponse(
                error_body("The bot could not answer this request.", "server_error"),
                503,
            )
        if body.stream:
            include_usage = bool(
                body.stream_options and body.stream_options.include_usage
            )
            return StreamingResponse(
                self._sse(event, ctx, include_usage),
                media_type="text/event-stream",
                headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
            )
        try:
            parts = [chunk.text async for chunk in ctx.reply]
        finally:
            event._done.set()
        MESSAGES_OUT.labels("openai").inc()
        return JSONResponse(_completion(event, ctx, "".join(parts)))

    async def _sse(
        self, event: ChatCompletionEvent, ctx: ChatContext, include_usage: bool
    ) -> AsyncIterator[str]:
        created = int(time.time())
        model = str(ctx.model or get_runtime().settings.llm.model or "freechat")

        def chunk(delta: dict[str, Any], finish: str | None = None) -> str:
            body = {
                "id": event.request_id,
                "object": "chat.completion.chunk",
                "created": created,
                "model": model,
                "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
            }
            return f"data: {json.dumps(body, ensure_ascii=False)}\n\n"

        try:
            yield chunk({"role": "assistant", "content": ""})
            async for piece in ctx.reply:
                delta: dict[str, Any] = {}
                if piece.reasoning:
                    delta["reasoning_content"] = piece.reasoning
                if piece.text:
                    delta["content"] = piece.text
                if delta:
                    yield chunk(delta)
            reason = ctx.extra.get("finish_reason")
            yield chunk({}, "length" if reason == "length" else "stop")
            if include_usage:
                usage = {
                    "id": event.request_id,
                    "object": "chat.completion.chunk",
                    "created": created,
                    "model": model,
                    "choices": [],
                    "usage": _usage(ctx),
                }
                yield f"data: {json.dumps(usage)}\n\n"
            yield "data: [DONE]\n\n"
            MESSAGES_OUT.labels("openai").inc()
        finally:
            closer = getattr(ctx.reply, "aclose", None)
            if closer is not None:
                with contextlib.suppress(RuntimeError):
                    await closer()
            if event._done is not None:
                event._done.set()

    async def _context(self, bot: Any, event: Any) -> ChatContext | None:
        if not isinstance(event, ChatCompletionEvent):
            return None
        body, earlier = event._request
        ctx = ChatContext(
            platform="openai",
            user_id=event.user,
            text=event.text,
            session_id=event.session,
            message_id=event.request_id,
            bot_id="openai",
            model=None,
            max_tokens=body.max_completion_tokens or body.max_tokens,
            temperature=body.temperature,
        )
        system = [m.text() for m in earlier if m.role in ("system", "developer")]
        if system:
            ctx.system_prompt = "\n\n".join(system)
        history = [
            PromptMessage(m.role, m.text())
            for m in earlier
            if m.role in ("user", "assistant") and m.text()
        ]
        if history:
            # the client keeps the conversation: stored history is not added to it
            ctx.history = history
            ctx.extra["client_history"] = True
        return ctx

    async def _deliver(self, bot: Any, event: Any, ctx: ChatContext) -> None:
        if not isinstance(event, ChatCompletionEvent) or event._handoff is None:
            raise TypeError("the OpenAI adapter delivers its own events only")
        if not event._handoff.done():
            event._handoff.set_result(ctx)
        if event._done is not None:
            await event._done.wait()


def session_key(owner: str, user: str | None) -> str:
    """The history session of a request: the key's owner, and within it the
    client's ``user`` (an end user of the owner's app). ``user`` never reaches
    another owner's sessions: owner names have no ``:``."""
    if not user:
        return f"openai:{owner}"
    if len(user) > MAX_USER_IN_KEY:  # keys are stored in 191-character columns
        user = "#" + hashlib.sha256(user.encode()).hexdigest()[:40]
    return f"openai:{owner}:{user}"


def _fail_handoff(event: ChatCompletionEvent) -> None:
    """NoneBot finished without delivering (no matcher answered): unblock the handler."""
    if event._handoff is not None and not event._handoff.done():
        event._handoff.set_result(None)


def _usage(ctx: ChatContext) -> dict[str, int]:
    return {
        "prompt_tokens": ctx.usage.prompt_tokens,
        "completion_tokens": ctx.usage.completion_tokens,
        "total_tokens": ctx.usage.total_tokens,
    }


def _completion(
    event: ChatCompletionEvent, ctx: ChatContext, text: str
) -> dict[str, Any]:
    reason = ctx.extra.get("finish_reason")
    return {
        "id": event.request_id,
        "object": "chat.completion",
        "created": int(time.time()),
        "model": str(ctx.extra.get("model") or get_runtime().settings.llm.model),
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": text},
                "finish_reason": "length" if reason == "length" else "stop",
            }
        ],
        "usage": _usage(ctx),
    }
