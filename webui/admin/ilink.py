"""Admin API: personal WeChat (iLink) login from the browser. ``POST`` starts the
QR login of ``adapters.ilink.login`` on this instance; ``GET`` tells its state;
``qr.svg`` is the current QR code. The token is stored as the CLI stores it. Only
the configured iLink server is ever contacted (no URL comes from the request)."""

from __future__ import annotations

import asyncio
import io
from typing import Any, Literal

from fastapi import APIRouter, HTTPException, Response
from pydantic import BaseModel

from bot.runtime import get_runtime

from .audit import record
from .deps import AdminReader, AdminWriter, actor

router = APIRouter()

State = Literal["idle", "waiting", "scanned", "confirmed", "failed"]


class ILinkLogin(BaseModel):
    state: State
    url: str | None
    message: str


class _Progress(io.StringIO):
    """What ``login`` writes for a terminal, read as events."""

    def __init__(self) -> None:
        super().__init__()
        self.url: str | None = None
        self.scanned = False
        self.last = ""

    def write(self, text: str) -> int:
        for line in text.splitlines():
            if "open: " in line:
                self.url = line.split("open: ", 1)[1].strip()
                self.scanned = False
            elif line.startswith("Scanned"):
                self.scanned = True
            if line.strip() and not set(line.strip()) <= set("█▀▄ "):
                self.last = line.strip()
        return len(text)


_task: asyncio.Task[str] | None = None
_progress: _Progress | None = None


def _base_url() -> str:
    from adapters.ilink.config import DEFAULT_BASE_URL

    raw = get_runtime().settings.adapters.get("ilink") or {}
    return str(raw.get("base_url") or DEFAULT_BASE_URL)


def _status() -> ILinkLogin:
    if _task is None or _progress is None:
        return ILinkLogin(state="idle", url=None, message="")
    if _task.done():
        if _task.cancelled() or _task.exception() is not None:
            why = "cancelled" if _task.cancelled() else str(_task.exception())
            return ILinkLogin(state="failed", url=None, message=why)
        return ILinkLogin(state="confirmed", url=None, message=_progress.last)
    state: State = "scanned" if _progress.scanned else "waiting"
    return ILinkLogin(state=state, url=_progress.url, message=_progress.last)


@router.post("/adapters/ilink/login", tags=["adapters"])
async def start_ilink_login(session: AdminWriter) -> ILinkLogin:
    global _task, _progress
    if _task is not None and not _task.done():
        return _status()
    from adapters.ilink.login import login

    _progress = _Progress()
    _task = get_runtime().spawn(
        login(_base_url(), settings=get_runtime().settings, out=_progress),
        name="ilink-browser-login",
    )
    await record(actor(session), "ilink.login", "adapter:ilink")
    for _ in range(100):  # the first QR code usually comes within a second
        if _progress.url or _task.done():
            break
        await asyncio.sleep(0.05)
    return _status()


@router.get("/adapters/ilink/login", tags=["adapters"])
async def ilink_login_state(session: AdminReader) -> ILinkLogin:
    return _status()


@router.get("/adapters/ilink/qr.svg", tags=["adapters"])
async def ilink_qr(session: AdminReader) -> Response:
    status = _status()
    if status.url is None:
        raise HTTPException(404, "no QR code right now")
    import qrcode
    import qrcode.image.svg

    image: Any = qrcode.make(status.url, image_factory=qrcode.image.svg.SvgPathImage)
    out = io.BytesIO()
    image.save(out)
    return Response(
        out.getvalue(),
        media_type="image/svg+xml",
        headers={
            "Cache-Control": "no-store",
            "Content-Security-Policy": "default-src 'none'",
        },
    )
