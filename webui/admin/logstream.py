"""The console's live log: ``/api/admin/logs/ws``, for admins.

Like the chat socket (adapters/web): a cross-origin socket is refused (HTTP 403);
the session cookie is verified on connect, then again before every frame sent and
every :data:`CHECK` seconds while quiet, so a sign-out, a disabled user or a lost
admin role closes the socket (4401 / 4403) within that time. The first frame holds
the last ``lines`` lines (at most :data:`~.logbuffer.LINES`), each later one the
new lines, gathered for :data:`BATCH` seconds; ``dropped`` counts those a slow
reader missed. Lines are redacted by :mod:`.logbuffer`.
"""

from __future__ import annotations

import asyncio
import contextlib
from urllib.parse import urlsplit

from fastapi import APIRouter, WebSocket, WebSocketDisconnect

from bot import auth
from bot.runtime import get_runtime

from . import logbuffer

router = APIRouter()

CLOSE_UNAUTHORIZED = 4401
CLOSE_FORBIDDEN = 4403
CHECK = 2.0
BATCH = 0.2


async def _admin(ws: WebSocket) -> int | None:
    """None while the socket's session is an admin's; else the close code."""
    try:
        session = await auth.verify_session(
            get_runtime().settings, ws.cookies.get(auth.SESSION_COOKIE)
        )
    except auth.AuthError:
        return CLOSE_UNAUTHORIZED
    return None if auth.role_of(session.user) == "admin" else CLOSE_FORBIDDEN


async def _drain(ws: WebSocket) -> None:
    """Read (and ignore) what the page sends, text or bytes, until it goes."""
    with contextlib.suppress(WebSocketDisconnect):
        while (await ws.receive())["type"] != "websocket.disconnect":
            pass


def _lines_wanted(raw: str | None) -> int:
    try:
        return max(0, min(int(raw or 200), logbuffer.LINES))
    except ValueError:
        return 200


@router.websocket("/logs/ws")
async def logs_socket(ws: WebSocket) -> None:
    origin = ws.headers.get("origin")
    if origin and urlsplit(origin).netloc != ws.headers.get("host", ""):
        await ws.close(CLOSE_FORBIDDEN, "cross-origin socket refused")  # HTTP 403
        return
    await ws.accept()
    refused = await _admin(ws)
    if refused is not None:
        await ws.close(refused, "admins only, signed in")
        return
    with logbuffer.listen() as listener:
        await ws.send_json(
            {"lines": logbuffer.tail(_lines_wanted(ws.query_params.get("lines")))}
        )
        reader = asyncio.create_task(_drain(ws))
        try:
            await _stream(ws, listener, reader)
        except WebSocketDisconnect:
            pass
        finally:
            reader.cancel()
            await asyncio.gather(reader, return_exceptions=True)


async def _stream(
    ws: WebSocket, listener: logbuffer.Listener, reader: asyncio.Task[None]
) -> None:
    while not reader.done():
        ready = asyncio.create_task(listener.ready.wait())
        await asyncio.wait({ready, reader}, timeout=CHECK)
        ready.cancel()
        if reader.done():
            return
        if listener.ready.is_set():
            await asyncio.sleep(BATCH)  # a burst of lines goes as one frame
        refused = await _admin(ws)
        if refused is not None:
            await ws.close(refused, "signed out")
            return
        lines, dropped = listener.take()
        if lines or dropped:
            await ws.send_json({"lines": lines, "dropped": dropped})
