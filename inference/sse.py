"""ASGI pieces of the HTTP app: watched responses and the body-size limit.

`WatchedResponse` sends either a server-sent-event stream or one JSON body, and
meanwhile listens on `receive()` for `http.disconnect`. Whichever comes first
wins: a client that leaves cancels the producing task and calls `on_close`, which
cancels the engine request, so its row leaves the batch before the next decode
step. (Starlette's `StreamingResponse` stops listening for disconnects on ASGI
spec 2.4 servers and notices a gone client only at the next write, which never
comes for a request still queued.)

`BodyLimit` answers 413 to bodies over the configured size, whether announced
by Content-Length or streamed in chunks.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator, Callable, Coroutine
from typing import Any

from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .exceptions import (
    EngineStoppedError,
    InferenceError,
    OutputFormatError,
    QueueFullError,
)


def dumps(obj: Any) -> bytes:
    """Compact JSON, UTF-8, non-ASCII kept as is."""
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":")).encode()


def error_body(message: str, kind: str, param: str | None = None) -> dict[str, Any]:
    """An OpenAI-style error object."""
    return {"error": {"message": message, "type": kind, "param": param, "code": None}}


class WatchedResponse(Response):
    """A response that is abandoned (and `on_close` called) when the client leaves."""

    def __init__(
        self,
        *,
        on_close: Callable[[], None],
        stream: AsyncIterator[bytes] | None = None,
        result: Coroutine[Any, Any, dict[str, Any]] | None = None,
    ) -> None:
        super().__init__(status_code=200)
        self._stream = stream
        self._result = result
        self._on_close = on_close

    async def _send_stream(self, stream: AsyncIterator[bytes], send: Send) -> None:
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [
                    (b"content-type", b"text/event-stream; charset=utf-8"),
                    (b"cache-control", b"no-cache"),
                    (b"x-accel-buffering", b"no"),
                ],
            }
        )
        async for chunk in stream:
            await send({"type": "http.response.body", "body": chunk, "more_body": True})
        await send({"type": "http.response.body", "body": b"", "more_body": False})

    async def _send_json(
        self, result: Coroutine[Any, Any, dict[str, Any]], send: Send
    ) -> None:
        try:
            body, status = await result, 200
        except InferenceError as exc:
            unavailable = isinstance(exc, EngineStoppedError | QueueFullError)
            status = 503 if unavailable else 500
            kind = "server_error"
            if isinstance(exc, OutputFormatError):
                kind = "invalid_response_format"
            body = error_body(str(exc), kind)
        payload = dumps(body)
        await send(
            {
                "type": "http.response.start",
                "status": status,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(payload)).encode()),
                ],
            }
        )
        await send({"type": "http.response.body", "body": payload})

    @staticmethod
    async def _watch(receive: Receive) -> None:
        while (await receive())["type"] != "http.disconnect":
            pass

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self._stream is not None:
            work = asyncio.ensure_future(self._send_stream(self._stream, send))
        elif self._result is not None:
            work = asyncio.ensure_future(self._send_json(self._result, send))
        else:  # pragma: no cover - constructor misuse
            raise TypeError("WatchedResponse needs a stream or a result")
        watch = asyncio.ensure_future(self._watch(receive))
        try:
            await asyncio.wait({work, watch}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in (work, watch):
                task.cancel()
            await asyncio.gather(work, watch, return_exceptions=True)
            if self._stream is not None and hasattr(self._stream, "aclose"):
                await self._stream.aclose()
            elif self._result is not None:
                self._result.close()
            self._on_close()
        if not work.cancelled() and (error := work.exception()) is not None:
            if not isinstance(error, OSError):  # OSError: the client went away
                raise error


class _TooLarge(Exception):
    """Raised inside `BodyLimit`'s receive wrapper."""


class BodyLimit:
    """ASGI middleware: 413 for request bodies over `limit` bytes."""

    def __init__(self, app: ASGIApp, limit: int) -> None:
        self.app = app
        self.limit = limit

    async def _reject(self, send: Send) -> None:
        payload = dumps(
            error_body(f"request body over {self.limit} bytes", "invalid_request_error")
        )
        await send(
            {
                "type": "http.response.start",
                "status": 413,
                "headers": [(b"content-type", b"application/json")],
            }
        )
        await send({"type": "http.response.body", "body": payload})

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers", []))
        announced = headers.get(b"content-length")
        with contextlib.suppress(ValueError):
            if announced is not None and int(announced) > self.limit:
                await self._reject(send)
                return
        seen = 0

        async def limited_receive() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.limit:
                    raise _TooLarge
            return message

        try:
            await self.app(scope, limited_receive, send)
        except _TooLarge:  # raised while the body is read: nothing was sent yet
            await self._reject(send)
