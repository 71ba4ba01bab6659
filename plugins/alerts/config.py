"""Settings of the alerts (``plugins: {alerts: {...}}``)."""

from __future__ import annotations

from pydantic import BaseModel, Field


class Config(BaseModel):
    #: seconds a connection must stay down before superusers are told
    alerts_after: float = Field(default=60.0, ge=0)
    #: where alerts go besides superusers' own chats (``qq:12345`` superusers are
    #: reached directly): e.g. ``wecom:app:app1:user:zhangsan``, ``wecom:robot:ops``
    alerts_targets: list[str] = Field(default_factory=list)
    #: seconds between checks of the LLM endpoints' circuits
    alerts_check_interval: float = Field(default=5.0, gt=0)
