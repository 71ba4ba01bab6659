"""Settings of the rate_limit plugin (``plugins: {rate_limit: {...}}``).

Limits are requests per sliding window; a limit of 0 turns that scope off.
"""

from __future__ import annotations

from pydantic import BaseModel, Field


class Config(BaseModel):
    rate_limit_user: int = Field(20, ge=0)
    rate_limit_user_window: float = Field(60.0, gt=0)
    rate_limit_group: int = Field(60, ge=0)
    rate_limit_group_window: float = Field(60.0, gt=0)
    rate_limit_global: int = Field(0, ge=0)
    rate_limit_global_window: float = Field(60.0, gt=0)
    #: admins (superusers) are not limited
    rate_limit_exempt_admins: bool = True
    #: refusal; ``{seconds}`` is replaced by the wait in whole seconds
    rate_limit_message: str = (
        "Slow down: try again in {seconds} s. 请求太频繁，请 {seconds} 秒后再试。"
    )
    #: answer a refused user once per wait; further refusals stay silent
    rate_limit_notify_once: bool = True
    #: answer to a banned user (empty: no answer at all)
    rate_limit_ban_message: str = (
        "You are not allowed to use this bot. 你已被禁止使用。"
    )
    #: seconds a ban/switch lookup is cached (changes also arrive on the feed)
    rate_limit_access_cache: float = Field(30.0, ge=0)
    #: messages plugins may send to one chat per window (0 = no limit); the chat's
    #: own answers are limited by the limits above
    rate_limit_plugin_sends: int = Field(20, ge=0)
    rate_limit_plugin_sends_window: float = Field(60.0, gt=0)
