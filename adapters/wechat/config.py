"""Settings of the WeChat groups adapter (``adapters: {wechat: {...}}``, read as
``wechat_<key>``), mapped onto the stock OneBot v12 config by :meth:`Config.onebot`."""

from __future__ import annotations

from typing import Literal

from nonebot.adapters.onebot.v12.config import Config as OneBotConfig
from pydantic import AnyUrl, BaseModel, Field


class Config(BaseModel):
    """WeChat (OneBot v12, ComWeChat profile) adapter settings."""

    #: Bearer token the bridge sends; required when server.host is not loopback
    wechat_access_token: str | None = None
    #: HTTP API URLs per self id, for bridges in HTTP mode
    wechat_api_roots: dict[str, AnyUrl] = Field(default_factory=dict)
    #: in groups, messages starting with one of these also reach the bot
    wechat_prefixes: list[str] = Field(default_factory=list)
    wechat_delivery: Literal["segments", "whole"] = "segments"
    wechat_min_interval: float = Field(1.0, ge=0)
    wechat_max_messages: int = Field(5, ge=1)
    wechat_max_chars: int = Field(2000, ge=50)
    #: mention the sender in the first group answer
    wechat_mention_sender: bool = False
    #: answers in progress per bot; more are shed. An answer is in progress while
    #: the model writes and its segments are paced out (seconds with a real model),
    #: so this bounds concurrency, not CPU: 64 keeps about 10 answers a second
    #: going with 5-second answers (server.max_in_flight bounds all bots together)
    wechat_max_in_flight: int = Field(64, ge=1)
    wechat_shed: Literal["reply", "drop"] = "reply"
    wechat_busy_text: str = (
        "忙不过来了，请稍后再试。Busy, please try again in a moment."
    )
    wechat_busy_cooldown: float = Field(30.0, ge=0)
    wechat_dedup_ttl: float = Field(3600.0, gt=0)
    wechat_reconnect_grace: float = Field(5.0, ge=0)

    def onebot(self) -> OneBotConfig:
        return OneBotConfig(
            onebot_access_token=self.wechat_access_token,
            onebot_api_roots=self.wechat_api_roots,
        )
