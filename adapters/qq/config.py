"""Settings of the QQ adapter (``adapters: {qq: {...}}``, read as ``qq_<key>``).

The stock OneBot v11 adapter reads ``onebot_*`` keys; :meth:`Config.onebot` maps ours
onto the model it expects, so one section configures everything.
"""

from __future__ import annotations

from typing import Literal

from nonebot.adapters.onebot.utils import WSUrl
from nonebot.adapters.onebot.v11.config import Config as OneBotConfig
from pydantic import AnyUrl, BaseModel, Field


class Config(BaseModel):
    """QQ (OneBot v11, NapCat) adapter settings."""

    #: Bearer token NapCat sends (reverse WS, HTTP POST) and we send (forward WS,
    #: HTTP API); required when server.host is not a loopback address
    qq_access_token: str | None = None
    #: HMAC-SHA1 secret of HTTP POST events (X-Signature)
    qq_secret: str | None = None
    #: forward WebSocket URLs to dial (NapCat's "WebSocket server" mode)
    qq_ws_urls: set[WSUrl] = Field(default_factory=set)
    #: HTTP API roots per self id (NapCat's "HTTP server" mode)
    qq_api_roots: dict[str, AnyUrl] = Field(default_factory=dict)
    #: in groups, messages starting with one of these also reach the bot
    qq_prefixes: list[str] = Field(default_factory=list)
    #: "segments": finished paragraphs as separate messages; "whole": one message
    qq_delivery: Literal["segments", "whole"] = "segments"
    qq_min_interval: float = Field(1.0, ge=0)
    qq_max_messages: int = Field(5, ge=1)
    qq_max_chars: int = Field(3000, ge=50)
    #: quote the user's message in the first group answer
    qq_reply_quote: bool = True
    #: answers in progress per bot; more are shed. An answer is in progress while
    #: the model writes and its segments are paced out (seconds with a real model),
    #: so this bounds concurrency, not CPU: 64 keeps about 10 answers a second
    #: going with 5-second answers (server.max_in_flight bounds all bots together)
    qq_max_in_flight: int = Field(64, ge=1)
    #: what shed messages get: a short "busy" answer or nothing
    qq_shed: Literal["reply", "drop"] = "reply"
    qq_busy_text: str = "忙不过来了，请稍后再试。Busy, please try again in a moment."
    #: at most one busy answer per chat within this many seconds
    qq_busy_cooldown: float = Field(30.0, ge=0)
    #: how long a message id is remembered for deduplication
    qq_dedup_ttl: float = Field(3600.0, gt=0)
    #: how long a send waits for a reconnecting NapCat before failing
    qq_reconnect_grace: float = Field(5.0, ge=0)
    #: timeout of the get_msg lookup that tells whether a reply quotes the bot
    qq_reply_lookup_timeout: float = Field(3.0, gt=0)

    def onebot(self) -> OneBotConfig:
        """The stock adapter's config model with our values."""
        return OneBotConfig(
            onebot_access_token=self.qq_access_token,
            onebot_secret=self.qq_secret,
            onebot_ws_urls=self.qq_ws_urls,
            onebot_api_roots=self.qq_api_roots,
        )
