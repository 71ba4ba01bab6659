"""WeCom's HTTP API: ``gettoken`` (cached per app in the shared state, so every
instance uses one token), ``message/send`` for self-built apps, and the group robot
webhook (send-only, for scheduled messages).

WeCom answers HTTP 200 with ``errcode``; 40014 (invalid) and 42001 (expired) mean
the token is stale: fetch a new one and retry once.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any, Literal

import httpx

from bot.metrics import ERRORS, MESSAGES_OUT
from bot.state import StateStore

from .config import WeComApp
from .exception import WeComApiError

log = logging.getLogger("freechat.adapters.wecom")

TOKEN_ERRORS = frozenset({40001, 40014, 42001})
DEFAULT_API_BASE = "https://qyapi.weixin.qq.com"


class WeComClient:
    """API calls of one self-built app."""

    def __init__(
        self, app: WeComApp, http: httpx.AsyncClient, state: StateStore, api_base: str
    ) -> None:
        self.app = app
        self.http = http
        self.state = state
        self.base = api_base.rstrip("/")
        self._lock = asyncio.Lock()

    @property
    def _token_key(self) -> str:
        return f"wecom:token:{self.app.corp_id}:{self.app.agent_id}"

    async def token(self, *, stale: str | None = None) -> str:
        cached = await self.state.get(self._token_key)
        if cached and cached != stale:
            return cached
        async with self._lock:
            cached = await self.state.get(self._token_key)
            if cached and cached != stale:
                return cached
            resp = await self.http.get(
                f"{self.base}/cgi-bin/gettoken",
                params={"corpid": self.app.corp_id, "corpsecret": self.app.secret},
            )
            data = resp.json()
            if data.get("errcode"):
                ERRORS.labels("wecom_token").inc()
                raise WeComApiError("gettoken", data["errcode"], data.get("errmsg", ""))
            token = str(data["access_token"])
            ttl = int(data.get("expires_in", 7200))
            await self.state.set(self._token_key, token, ttl=max(60, ttl - 300))
            return token

    async def call(self, path: str, payload: dict[str, Any]) -> dict[str, Any]:
        """POST ``payload`` to ``/cgi-bin/<path>``; one retry on a stale token."""
        token = await self.token()
        for attempt in range(2):
            resp = await self.http.post(
                f"{self.base}/cgi-bin/{path}",
                params={"access_token": token},
                json=payload,
            )
            data: dict[str, Any] = resp.json()
            code = int(data.get("errcode", 0) or 0)
            if code in TOKEN_ERRORS and attempt == 0:
                token = await self.token(stale=token)
                continue
            if code:
                ERRORS.labels("wecom_api").inc()
                raise WeComApiError(path, code, str(data.get("errmsg", "")))
            return data
        raise WeComApiError(path, -1, "token refused twice")  # pragma: no cover

    async def send_text(self, user_id: str, text: str) -> None:
        await self.call(
            "message/send",
            {
                "touser": user_id,
                "msgtype": "text",
                "agentid": self.app.agent_id,
                "text": {"content": text},
            },
        )
        MESSAGES_OUT.labels("wecom").inc()


async def send_group_robot(
    key: str,
    *,
    text: str | None = None,
    markdown: str | None = None,
    base_url: str = DEFAULT_API_BASE,
    http: httpx.AsyncClient | None = None,
    http_timeout: float = 10.0,
) -> None:
    """Send one message through a WeCom group robot webhook (``key`` from its URL).

    The robot allows 20 messages a minute; errors raise :class:`WeComApiError`.
    """
    if (text is None) == (markdown is None):
        raise ValueError("give exactly one of text or markdown")
    kind: Literal["text", "markdown"] = "text" if text is not None else "markdown"
    payload = {
        "msgtype": kind,
        kind: {"content": text if text is not None else markdown},
    }
    url = f"{base_url.rstrip('/')}/cgi-bin/webhook/send"
    if http is None:
        async with httpx.AsyncClient(timeout=http_timeout) as client:
            resp = await client.post(url, params={"key": key}, json=payload)
    else:
        resp = await http.post(url, params={"key": key}, json=payload)
    data = resp.json()
    if data.get("errcode"):
        ERRORS.labels("wecom_robot").inc()
        raise WeComApiError("webhook/send", data["errcode"], data.get("errmsg", ""))
    MESSAGES_OUT.labels("wecom").inc()
