"""Settings of the Official Account adapter (``adapters: {mp: {...}}`` in the YAML,
flattened to ``mp_<key>`` in NoneBot's config)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field, model_validator


class MPAccount(BaseModel):
    """One Official Account; its callback URL is ``/wechat/mp/<name>``."""

    name: str = Field(pattern=r"^[A-Za-z0-9_-]{1,32}$")
    app_id: str
    app_secret: str = Field(repr=False)
    token: str = Field(repr=False)
    encoding_aes_key: str = Field(default="", repr=False)
    #: ``plaintext``, ``compatible`` (both accepted) or ``safe`` (AES only)
    mode: Literal["plaintext", "compatible", "safe"] = "plaintext"
    #: passive reply to a new follower (empty: none)
    welcome: str = ""

    @model_validator(mode="after")
    def _aes_key(self) -> MPAccount:
        if self.mode != "plaintext" and len(self.encoding_aes_key) != 43:
            raise ValueError(
                f"mp account {self.name}: encoding_aes_key must have 43 characters "
                f"in {self.mode} mode"
            )
        return self


class Config(BaseModel):
    mp_accounts: list[MPAccount] = Field(default_factory=list)
    mp_api_base: str = "https://api.weixin.qq.com"
    #: how long the callback waits for the answer before it answers ``success``
    mp_passive_timeout: float = Field(default=4.5, gt=0, lt=5)
    #: accepted clock skew of the callback's timestamp, in seconds
    mp_timestamp_window: float = 300.0
    #: how long a MsgId stays claimed (WeChat retries for ~15 s)
    mp_dedup_ttl: float = 300.0
    #: characters per customer-service (and passive) text message
    mp_max_chars: int = Field(default=600, ge=50, le=2000)
    #: callbacks larger than this are refused with 413
    mp_max_body: int = Field(default=65536, ge=1024)
    #: seconds of HTTP timeout for API calls
    mp_api_timeout: float = 10.0
