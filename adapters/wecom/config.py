"""Settings of the WeCom adapter (``adapters: {wecom: {...}}`` in the YAML, flattened
to ``wecom_<key>`` in NoneBot's config)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field, model_validator

_NAME = r"^[A-Za-z0-9_-]{1,32}$"


class WeComBot(BaseModel):
    """An AI bot (智能机器人). ``long``: WebSocket long connection (no public URL);
    ``webhook``: encrypted JSON callbacks at ``/wecom/<name>``."""

    name: str = Field(pattern=_NAME)
    mode: Literal["long", "webhook"] = "long"
    bot_id: str = ""
    #: long connection secret
    secret: str = Field(default="", repr=False)
    #: webhook mode: callback token and EncodingAESKey
    token: str = Field(default="", repr=False)
    encoding_aes_key: str = Field(default="", repr=False)
    #: answer to ``enter_chat`` (empty: none)
    welcome: str = ""

    @model_validator(mode="after")
    def _mode(self) -> WeComBot:
        if self.mode == "long" and not (self.bot_id and self.secret):
            raise ValueError(
                f"wecom bot {self.name}: long mode needs bot_id and secret"
            )
        if self.mode == "webhook" and (
            not self.token or len(self.encoding_aes_key) != 43
        ):
            raise ValueError(
                f"wecom bot {self.name}: webhook mode needs token and a 43-character "
                "encoding_aes_key"
            )
        return self


class WeComApp(BaseModel):
    """A self-built app (自建应用); callbacks at ``/wecom/<name>``."""

    name: str = Field(pattern=_NAME)
    corp_id: str
    agent_id: int
    secret: str = Field(repr=False)
    token: str = Field(repr=False)
    encoding_aes_key: str = Field(min_length=43, max_length=43, repr=False)


class WeComRobot(BaseModel):
    """A group robot (群机器人) that proactive sends reach as ``wecom:robot:<name>``."""

    name: str = Field(pattern=_NAME)
    #: the ``key`` of the robot's webhook URL
    key: str = Field(min_length=1, repr=False)


class Config(BaseModel):
    wecom_bots: list[WeComBot] = Field(default_factory=list)
    wecom_apps: list[WeComApp] = Field(default_factory=list)
    wecom_robots: list[WeComRobot] = Field(default_factory=list)
    wecom_api_base: str = "https://qyapi.weixin.qq.com"
    wecom_ws_url: str = "wss://openws.work.weixin.qq.com"
    #: seconds between pings on the long connection
    wecom_heartbeat: float = Field(default=30.0, gt=0)
    #: reconnect backoff, doubling from min to max seconds
    wecom_reconnect_min: float = Field(default=1.0, gt=0)
    wecom_reconnect_max: float = Field(default=60.0, gt=0)
    #: after another connection took the bot over: seconds before trying again
    #: (0: stay off until restart, so two instances never fight over one bot)
    wecom_kicked_retry: float = 0.0
    #: instances sharing the state: seconds a connection lease lasts without renewal
    wecom_lease_ttl: float = Field(default=30.0, gt=0)
    #: least seconds between two stream frames of one answer
    wecom_stream_interval: float = Field(default=0.5, ge=0)
    #: the platform's limit of one stream frame's content, in UTF-8 bytes
    wecom_stream_max_bytes: int = Field(default=20480, ge=64, le=20480)
    #: webhook mode: how long the stream state is kept (refreshes stop after 6 min)
    wecom_stream_ttl: float = 600.0
    #: shown when an answer ends with no text (error, empty model output)
    wecom_empty_answer: str = "抱歉，暂时无法回答。"
    wecom_timestamp_window: float = 300.0
    wecom_dedup_ttl: float = 300.0
    wecom_max_body: int = Field(default=65536, ge=1024)
    #: self-built app: characters per message/send text
    wecom_max_chars: int = Field(default=600, ge=50, le=2000)
    #: self-built app: least seconds between two messages of one answer
    wecom_segment_interval: float = Field(default=1.0, ge=0)
    wecom_api_timeout: float = 10.0
