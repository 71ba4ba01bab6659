"""The iLink bot HTTP API (``{base}/ilink/bot/...``), as Tencent's openclaw-weixin
client speaks it: JSON POSTs with ``AuthorizationType: ilink_bot_token``, a Bearer
token, a random ``X-WECHAT-UIN`` and ``base_info`` in every body."""

from __future__ import annotations

import base64
import secrets
import uuid
from typing import Any

import httpx

from .exception import ApiError, NetworkError, SessionExpired

CHANNEL_VERSION = "freechat-0.1"
SESSION_EXPIRED = -14
TEXT_ITEM = 1
BOT_MESSAGE = 2
FINISHED = 2


def random_uin() -> str:
    """``X-WECHAT-UIN``: a random uint32, as a decimal string, base64-encoded."""
    return base64.b64encode(str(secrets.randbits(32)).encode()).decode()


class ILinkClient:
    def __init__(
        self, base_url: str, token: str = "", *, timeout: float = 15.0
    ) -> None:
        self.token = token
        self.http = httpx.AsyncClient(
            base_url=base_url.rstrip("/") + "/", timeout=timeout, trust_env=False
        )

    async def close(self) -> None:
        await self.http.aclose()

    def _headers(self) -> dict[str, str]:
        headers = {
            "Content-Type": "application/json",
            "AuthorizationType": "ilink_bot_token",
            "X-WECHAT-UIN": random_uin(),
        }
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        return headers

    async def post(
        self, endpoint: str, body: dict[str, Any], *, wait_s: float | None = None
    ) -> dict[str, Any]:
        payload = {**body, "base_info": {"channel_version": CHANNEL_VERSION}}
        try:
            resp = await self.http.post(
                f"ilink/bot/{endpoint}",
                json=payload,
                headers=self._headers(),
                timeout=wait_s if wait_s is not None else httpx.USE_CLIENT_DEFAULT,
            )
            resp.raise_for_status()
            data = resp.json()
        except (httpx.HTTPError, ValueError) as exc:
            raise NetworkError(f"{endpoint}: {type(exc).__name__}: {exc}") from exc
        if not isinstance(data, dict):
            raise NetworkError(f"{endpoint}: unexpected answer")
        code = data.get("errcode") or data.get("ret") or 0
        if code == SESSION_EXPIRED:
            raise SessionExpired(code, str(data.get("errmsg", "session expired")))
        if code:
            raise ApiError(int(code), str(data.get("errmsg", "")))
        return data

    async def get(self, endpoint: str, params: dict[str, Any], *, wait_s: float) -> Any:
        try:
            resp = await self.http.get(
                f"ilink/bot/{endpoint}", params=params, timeout=wait_s
            )
            resp.raise_for_status()
            return resp.json()
        except (httpx.HTTPError, ValueError) as exc:
            raise NetworkError(f"{endpoint}: {type(exc).__name__}: {exc}") from exc

    # ----------------------------------------------------------------- calls
    async def get_updates(self, cursor: str, *, wait_s: float) -> dict[str, Any]:
        try:
            return await self.post(
                "getupdates", {"get_updates_buf": cursor}, wait_s=wait_s + 5
            )
        except NetworkError as exc:
            if isinstance(exc.__cause__, httpx.TimeoutException):
                return {"ret": 0, "msgs": [], "get_updates_buf": cursor}
            raise

    async def send_text(self, to_user_id: str, context_token: str, text: str) -> Any:
        return await self.post(
            "sendmessage",
            {
                "msg": {
                    "from_user_id": "",
                    "to_user_id": to_user_id,
                    "client_id": uuid.uuid4().hex,
                    "message_type": BOT_MESSAGE,
                    "message_state": FINISHED,
                    "context_token": context_token,
                    "item_list": [{"type": TEXT_ITEM, "text_item": {"text": text}}],
                }
            },
        )

    async def typing_ticket(self, user_id: str, context_token: str) -> str:
        data = await self.post(
            "getconfig", {"ilink_user_id": user_id, "context_token": context_token}
        )
        return str(data.get("typing_ticket") or "")

    async def send_typing(self, user_id: str, ticket: str, *, typing: bool) -> None:
        await self.post(
            "sendtyping",
            {
                "ilink_user_id": user_id,
                "typing_ticket": ticket,
                "status": 1 if typing else 2,
            },
        )
