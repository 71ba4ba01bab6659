"""Settings of the keywords plugin (``plugins: {keywords: {...}}``)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field


class Config(BaseModel):
    #: rules besides the KeywordRule table: ``{match, pattern, reply, priority,
    #: scope}`` with match ``exact``, ``contains`` or ``regex``
    keywords_rules: list[dict[str, Any]] = Field(default_factory=list)
    #: regexes see at most this many characters of a message
    keywords_max_input: int = Field(2000, ge=1)
    #: total seconds regexes may take on one message
    keywords_regex_timeout: float = Field(0.05, gt=0)
