"""QR-code login to the iLink bot API (``freechat ilink login``).

``GET ilink/bot/get_bot_qrcode?bot_type=3`` gives a QR payload; the terminal shows it;
``get_qrcode_status`` is long-polled until the user confirms in WeChat
(``scaned_but_redirect`` switches host, ``expired`` fetches a new code, up to 3).
The bot token, bot id and base URL are stored in the database (``KeyValue``,
``ilink:token`` etc.), where the adapter reads them at start-up; the store must be
initialised (``bot.store.init_store``) before calling :func:`login`.
"""

from __future__ import annotations

import asyncio
import io
import sys
from typing import Any, TextIO

import qrcode

from bot.settings import Settings

from . import store
from .client import ILinkClient
from .config import DEFAULT_BASE_URL
from .exception import ILinkError, NetworkError

STATUS_POLL_TIMEOUT = 35.0
MAX_QR_CODES = 3


def render_qr(data: str) -> str:
    """``data`` as a QR code drawn with block characters, for a terminal."""
    qr = qrcode.QRCode(border=1)
    qr.add_data(data)
    out = io.StringIO()
    qr.print_ascii(out=out, invert=True)
    return out.getvalue()


def _show(out: TextIO, url: str) -> None:
    out.write(render_qr(url))
    out.write(f"\nScan with WeChat, or open: {url}\n")
    out.flush()


async def login(
    base_url: str = DEFAULT_BASE_URL,
    *,
    settings: Settings,
    bot_type: int = 3,
    wait_s: float = 480.0,
    out: TextIO | None = None,
    poll_interval: float = 1.0,
) -> str:
    """Show a login QR code, wait for the confirmation, store (the token sealed with
    ``settings``' instance secret) and return the token.

    Raises :class:`~adapters.ilink.exception.ILinkError` on failure or timeout.
    """
    out = out or sys.stdout
    client = ILinkClient(base_url)
    poll = client
    try:
        code = await _new_code(client, bot_type, out)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + wait_s
        codes, scanned = 1, False
        while loop.time() < deadline:
            try:
                status = await poll.get(
                    "get_qrcode_status",
                    {"qrcode": code},
                    wait_s=STATUS_POLL_TIMEOUT + 5,
                )
            except NetworkError:
                status = {"status": "wait"}
            state = status.get("status") if isinstance(status, dict) else None
            if state == "scaned" and not scanned:
                scanned = True
                out.write("Scanned: confirm the login in WeChat...\n")
            elif state == "scaned_but_redirect" and status.get("redirect_host"):
                if poll is not client:
                    await poll.close()
                poll = ILinkClient(f"https://{status['redirect_host']}")
            elif state == "expired":
                codes += 1
                if codes > MAX_QR_CODES:
                    raise ILinkError("the QR code expired too often; try again")
                out.write("The QR code expired; here is a new one.\n")
                code = await _new_code(client, bot_type, out)
                scanned = False
            elif state == "confirmed":
                return await _save(settings, status, base_url, out)
            await asyncio.sleep(poll_interval)
        raise ILinkError("login timed out")
    finally:
        if poll is not client:
            await poll.close()
        await client.close()


async def _new_code(client: ILinkClient, bot_type: int, out: TextIO) -> str:
    data = await client.get("get_bot_qrcode", {"bot_type": bot_type}, wait_s=15)
    if not isinstance(data, dict) or not data.get("qrcode"):
        raise ILinkError("the server gave no QR code")
    _show(out, str(data.get("qrcode_img_content") or data["qrcode"]))
    return str(data["qrcode"])


async def _save(
    settings: Settings, status: dict[str, Any], base_url: str, out: TextIO
) -> str:
    token = status.get("bot_token")
    bot_id = status.get("ilink_bot_id")
    if not token or not bot_id:
        raise ILinkError("login confirmed but no bot token or bot id was returned")
    await store.set_token(settings, str(token))
    await store.set_value(store.BOT_ID_KEY, str(bot_id))
    await store.set_value(store.BASE_URL_KEY, str(status.get("baseurl") or base_url))
    out.write(f"Logged in as {bot_id}. Restart FreeChat to start answering.\n")
    return str(token)
