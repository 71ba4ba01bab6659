"""The Official Account's HTTP API: ``stable_token`` (cached in the shared state, so
every instance uses one token) and the customer-service message API.

WeChat answers HTTP 200 with ``errcode`` in the JSON; 40001/40014/42001 mean the token
is stale: refresh once and retry once. 45015 (the user's 48 h window closed) and
45047 (quota used up) are raised as :class:`QuotaError` and never retried.
"""

from __future__ import annotations

import asyncio
import logging
import re
from typing import Any

import httpx

from bot import health
from bot.metrics import ERRORS, MESSAGES_OUT
from bot.state import StateStore

from .config import MPAccount
from .exception import MPApiError, QuotaError

log = logging.getLogger("freechat.adapters.mp")

_SECRET_QUERY = re.compile(r"((?:access_token|corpsecret|secret|key)=)[^&\s\"']+")


class RedactTokens(logging.Filter):
    """Masks tokens and secrets in URLs that HTTP client logs print in full."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        redacted = _SECRET_QUERY.sub(r"\1***", message)
        if redacted != message:
            record.msg, record.args = redacted, None
        return True


def install_log_redaction() -> None:
    """Attach :class:`RedactTokens` to the HTTP client loggers (once)."""
    for name in ("httpx", "httpcore"):
        logger = logging.getLogger(name)
        if not any(isinstance(f, RedactTokens) for f in logger.filters):
            logger.addFilter(RedactTokens())


TOKEN_ERRORS = frozenset({40001, 40014, 42001})
QUOTA_ERRORS = {
    45015: "the user's 48-hour customer-service window has closed",
    45047: "the customer-service message quota for this user is used up",
}


class MPClient:
    """API calls of one account."""

    def __init__(
        self,
        account: MPAccount,
        http: httpx.AsyncClient,
        state: StateStore,
        api_base: str,
    ) -> None:
        self.account = account
        self.http = http
        self.state = state
        self.base = api_base.rstrip("/")
        self._lock = asyncio.Lock()

    @property
    def _token_key(self) -> str:
        return f"mp:token:{self.account.app_id}"

    async def token(self, *, stale: str | None = None) -> str:
        """A valid access token; ``stale`` is one the API just refused."""
        cached = await self.state.get(self._token_key)
        if cached and cached != stale:
            return cached
        async with self._lock:
            cached = await self.state.get(self._token_key)
            if cached and cached != stale:
                return cached
            token, ttl = await self._fetch(force=False)
            if token == stale:
                # the stable token itself was invalidated (e.g. by a plain gettoken
                # call elsewhere): force a new one (limited to 20 a day by WeChat)
                token, ttl = await self._fetch(force=True)
            await self.state.set(self._token_key, token, ttl=max(60, ttl - 300))
            return token

    async def _fetch(self, *, force: bool) -> tuple[str, int]:
        channel = f"mp {self.account.name} token"
        try:
            result = await self._fetch_once(force=force)
        except (MPApiError, httpx.HTTPError, ValueError, KeyError) as exc:
            health.report(channel, "mp", False, f"token refresh failed: {exc}")
            raise
        health.report(channel, "mp", True)
        return result

    async def _fetch_once(self, *, force: bool) -> tuple[str, int]:
        body = {
            "grant_type": "client_credential",
            "appid": self.account.app_id,
            "secret": self.account.app_secret,
            "force_refresh": force,
        }
        resp = await self.http.post(f"{self.base}/cgi-bin/stable_token", json=body)
        data = resp.json()
        if data.get("errcode"):
            ERRORS.labels("mp_token").inc()
            raise MPApiError("stable_token", data["errcode"], data.get("errmsg", ""))
        return str(data["access_token"]), int(data.get("expires_in", 7200))

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
            if code in QUOTA_ERRORS:
                ERRORS.labels(f"mp_cs_{code}").inc()
                raise QuotaError(path, code, QUOTA_ERRORS[code])
            if code:
                ERRORS.labels("mp_api").inc()
                raise MPApiError(path, code, str(data.get("errmsg", "")))
            return data
        raise MPApiError(path, -1, "token refused twice")  # pragma: no cover

    async def send_text(self, openid: str, pieces: list[str]) -> int:
        """Send ``pieces`` through the customer-service API; return how many went.

        Stops at the first error; a quota error is logged clearly, not retried."""
        sent = 0
        for piece in pieces:
            payload = {"touser": openid, "msgtype": "text", "text": {"content": piece}}
            try:
                await self.call("message/custom/send", payload)
            except QuotaError as exc:
                log.warning(
                    "mp %s: customer-service message to %s not sent: errcode %d, %s "
                    "(%d of %d pieces sent; not retried)",
                    self.account.name,
                    openid,
                    exc.errcode,
                    exc.errmsg,
                    sent,
                    len(pieces),
                )
                return sent
            MESSAGES_OUT.labels("mp").inc()
            sent += 1
        return sent
