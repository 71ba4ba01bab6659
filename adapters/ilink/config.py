"""Settings of the iLink adapter (``adapters: {ilink: {...}}``, read as ``ilink_<key>``)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

DEFAULT_BASE_URL = "https://ilinkai.weixin.qq.com"


class Config(BaseModel):
    """Tencent iLink bot API (personal WeChat direct chats) settings."""

    #: API base URL (tests point it at a fake server)
    ilink_base_url: str = DEFAULT_BASE_URL
    #: bot token; empty = the one ``freechat ilink login`` stored in the database
    ilink_token: str | None = None
    #: seconds the server may hold a ``getupdates`` long poll
    ilink_poll_timeout: float = Field(35.0, gt=0)
    #: first delay after a failed poll (doubles up to 60 s)
    ilink_retry_delay: float = Field(2.0, gt=0)
    ilink_delivery: Literal["segments", "whole"] = "segments"
    ilink_min_interval: float = Field(1.0, ge=0)
    ilink_max_messages: int = Field(5, ge=1)
    ilink_max_chars: int = Field(2000, ge=50)
    #: show "typing..." while the answer is produced
    ilink_typing: bool = True
    #: answers in progress per bot; more are shed. An answer is in progress while
    #: the model writes and its segments are paced out (seconds with a real model),
    #: so this bounds concurrency, not CPU: 64 keeps about 10 answers a second
    #: going with 5-second answers (server.max_in_flight bounds all bots together)
    ilink_max_in_flight: int = Field(64, ge=1)
    ilink_shed: Literal["reply", "drop"] = "reply"
    ilink_busy_text: str = "忙不过来了，请稍后再试。Busy, please try again in a moment."
    ilink_busy_cooldown: float = Field(30.0, ge=0)
    ilink_dedup_ttl: float = Field(24 * 3600.0, gt=0)
