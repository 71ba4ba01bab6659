"""Settings of the history plugin (``plugins: {history: {...}}``)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field


class Config(BaseModel):
    #: earlier turns (a user message and its answer) put into the prompt
    history_max_turns: int = Field(10, ge=0, le=1000)
    #: groups: one context for everyone (``shared``) or one per member (``per_user``);
    #: adapters build ``ctx.session_id`` with ``plugins.history.core.session_key``
    #: seconds a session's conversation id and persona are cached (changes made
    #: with /reset and /persona reach every instance at once through the feed)
    history_cache_ttl: float = Field(60.0, ge=0)
    history_group_mode: Literal["shared", "per_user"] = "shared"
    #: chains stopped with these reasons are still saved (e.g. keyword replies)
    history_save_reasons: list[str] = Field(default_factory=lambda: ["keyword"])
    #: answer to /reset
    history_reset_message: str = "Context cleared. 已清空对话上下文。"
    #: /persona answers
    history_persona_set_message: str = "Persona saved. 人设已保存。"
    history_persona_none_message: str = (
        "No persona set (the default applies). 未设置人设。"
    )
    history_persona_denied_message: str = (
        "Only admins can change the persona here. 仅管理员可修改群人设。"
    )
    history_persona_too_long_message: str = "That persona is too long. 人设太长了。"
    history_persona_max_chars: int = Field(2000, ge=1)
    #: answer when a web conversation id belongs to someone else
    history_forbidden_message: str = "Conversation not found. 找不到该对话。"
