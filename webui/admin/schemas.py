"""Request and response bodies of the admin API (pydantic both ways)."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from bot.groups import GroupSettings

KeyStr = Field(min_length=3, max_length=191, pattern=r"^[a-z0-9_]+:[^\s]+$")


def _no_surrogates(value: Any) -> Any:
    """Refuse lone surrogates anywhere in a body (no database can store them)."""
    stack = [value]
    while stack:  # a loop, not recursion: nesting depth is the client's choice
        item = stack.pop()
        if isinstance(item, str):
            if any("\ud800" <= ch <= "\udfff" for ch in item):
                raise ValueError("text with lone surrogates (broken UTF-16)")
        elif isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list | tuple):
            stack.extend(item)
    return value


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid")

    @model_validator(mode="before")
    @classmethod
    def _text_is_unicode(cls, data: Any) -> Any:
        return _no_surrogates(data)


class Page(BaseModel):
    total: int
    offset: int
    limit: int


# -- users and API keys ---------------------------------------------------------------


class UserOut(BaseModel):
    name: str
    role: str
    disabled: bool
    created_at: dt.datetime


class UserList(Page):
    items: list[UserOut]


class UserCreate(_In):
    name: str = Field(min_length=1, max_length=64)
    password: str = Field(min_length=8, max_length=1024)
    role: Literal["admin", "operator", "user"] = "user"


class UserPatch(_In):
    role: Literal["admin", "operator", "user"] | None = None
    disabled: bool | None = None
    password: str | None = Field(None, min_length=8, max_length=1024)


class ApiKeyOut(BaseModel):
    id: int
    user: str
    name: str
    prefix: str
    revoked: bool
    created_at: dt.datetime
    last_used_at: dt.datetime | None


class ApiKeyList(Page):
    items: list[ApiKeyOut]


# -- bans -------------------------------------------------------------------------------


class BanOut(BaseModel):
    user_key: str
    reason: str
    created_by: str
    created_at: dt.datetime


class BanList(Page):
    items: list[BanOut]


class PlatformUserOut(BaseModel):
    user_key: str
    platform: str
    last_seen_at: dt.datetime | None
    conversations: int
    banned: bool


class PlatformUserList(Page):
    items: list[PlatformUserOut]


class BanCreate(_In):
    user_key: str = KeyStr
    reason: str = Field("", max_length=500)


# -- groups and personas ---------------------------------------------------------------


class Limits(_In):
    """Token limits (None: the plugin's default, 0: unlimited)."""

    daily: int | None = Field(None, ge=0)
    monthly: int | None = Field(None, ge=0)


class GroupOut(BaseModel):
    key: str
    name: str
    last_seen_at: dt.datetime | None
    settings: GroupSettings
    #: the settings this instance applies now (its in-memory copy, kept in step by
    #: the change feed)
    applied: GroupSettings
    budget: Limits
    #: plugins switched on or off in this group (absent: the global switch)
    plugins: dict[str, bool]


class GroupList(Page):
    items: list[GroupOut]


class GroupPatch(_In):
    settings: GroupSettings | None = None
    budget: Limits | None = None
    plugins: dict[str, bool] | None = None
    name: str | None = Field(None, max_length=200)

    @field_validator("plugins")
    @classmethod
    def _plugin_names(cls, value: dict[str, bool] | None) -> dict[str, bool] | None:
        if value is not None:
            if len(value) > 100:
                raise ValueError("at most 100 plugins")
            for name in value:
                if not (1 <= len(name) <= 128) or not name.replace("_", "").isalnum():
                    raise ValueError(f"not a plugin name: {name[:40]!r}")
        return value


class PersonaOut(BaseModel):
    name: str
    prompt: str
    updated_at: dt.datetime


class PersonaIn(_In):
    name: str = Field(min_length=1, max_length=64, pattern=r"^[\w.-]+$")
    prompt: str = Field(min_length=1, max_length=4000)


# -- words, keywords, budgets -----------------------------------------------------------


class WordOut(BaseModel):
    id: int
    word: str
    category: str
    created_by: str
    created_at: dt.datetime


class WordList(Page):
    items: list[WordOut]
    categories: dict[str, str]


class WordIn(_In):
    word: str = Field(min_length=1, max_length=191)
    category: str = Field("custom", min_length=1, max_length=64, pattern=r"^[\w.-]+$")


class WordImport(_In):
    category: str = Field("custom", min_length=1, max_length=64, pattern=r"^[\w.-]+$")
    words: list[Annotated[str, Field(max_length=191)]] = Field(max_length=10_000)


class WordTest(_In):
    text: str = Field(max_length=20_000)


class WordHit(BaseModel):
    word: str
    category: str
    action: str
    start: int
    end: int


class WordTestResult(BaseModel):
    normalized: str
    action: str | None
    result: str
    hits: list[WordHit]


class KeywordOut(BaseModel):
    id: int
    scope: str
    match: str
    pattern: str
    reply: str
    priority: int
    enabled: bool
    hit_count: int
    last_hit_at: dt.datetime | None


class KeywordList(Page):
    items: list[KeywordOut]


class KeywordIn(_In):
    scope: str = Field("global", max_length=191)
    match: Literal["exact", "contains", "regex"] = "contains"
    pattern: str = Field(min_length=1, max_length=300)
    reply: str = Field(min_length=1, max_length=4000)
    priority: int = Field(0, ge=-1000, le=1000)
    enabled: bool = True


class KeywordPatch(_In):
    scope: str | None = Field(None, max_length=191)
    match: Literal["exact", "contains", "regex"] | None = None
    pattern: str | None = Field(None, min_length=1, max_length=300)
    reply: str | None = Field(None, min_length=1, max_length=4000)
    priority: int | None = Field(None, ge=-1000, le=1000)
    enabled: bool | None = None


class BudgetOut(BaseModel):
    kind: Literal["user", "group"]
    key: str
    daily_limit: int | None
    monthly_limit: int | None
    day_used: int
    month_used: int


class BudgetList(Page):
    items: list[BudgetOut]
    defaults: dict[str, int]


# -- system -----------------------------------------------------------------------------


class AuditOut(BaseModel):
    id: int
    actor: str
    action: str
    target: str
    before: str
    after: str
    detail: str
    created_at: dt.datetime


class AuditList(Page):
    items: list[AuditOut]


class ConnectionOut(BaseModel):
    adapter: str
    self_id: str
    online: bool
    connected_at: float | None
    disconnected_at: float | None
    connects: int
    reconnects: int = 0
    last_event_at: float | None = None
    #: what the adapter says of it (WeCom long connection: connected / standby ...)
    status: str | None = None
    #: who holds a leased connection (``instance/…``); lease_here: this instance
    lease_holder: str | None = None
    lease_here: bool | None = None


class ProviderOut(BaseModel):
    base_url: str
    healthy: bool
    circuit: Literal["closed", "open"]
    failures: int
    in_flight: int
    reopens_in: float


class Overview(BaseModel):
    version: str
    instance: str
    uptime: float
    instances_online: list[str]
    messages_in: dict[str, float]
    messages_out: dict[str, float]
    in_flight: float
    errors: dict[str, float]
    shed: dict[str, float]
    tokens_today: int
    #: seconds to the model's first token on this instance (bucket bounds)
    first_token_p50: float | None
    first_token_p95: float | None
    #: the last 24 hours: hour (ISO) -> messages from users / answers
    per_hour: list[dict[str, int | str]]
    connections_online: int
    groups: int
