"""Settings of the sensitive_words plugin (``plugins: {sensitive_words: {...}}``)."""

from __future__ import annotations

from pydantic import BaseModel, Field, field_validator

from .normalize import DEFAULT_SKIP_CHARS

_ACTIONS = ("block", "mask", "log")


class Config(BaseModel):
    #: folders of word lists: ``<category>.txt``, one word per line
    sensitive_words_dirs: list[str] = Field(default_factory=lambda: ["config/words"])
    #: action per category: ``block``, ``mask`` or ``log``
    sensitive_words_categories: dict[str, str] = Field(default_factory=dict)
    #: action of categories not listed (and of admin-added ``custom`` words)
    sensitive_words_default_action: str = "mask"
    #: answer to a blocked message (nothing reaches the model)
    sensitive_words_notice: str = (
        "Your message contains content that cannot be processed. "
        "您的消息包含无法处理的内容。"
    )
    #: characters ignored inside words (``傻@冒``); default: spaces and punctuation
    sensitive_words_skip_chars: str = DEFAULT_SKIP_CHARS
    #: fold traditional Chinese to simplified before matching
    sensitive_words_traditional: bool = True
    #: fold Cyrillic/Greek look-alikes to Latin before matching
    sensitive_words_homoglyphs: bool = True
    #: ASCII words match only at ASCII word boundaries (``ass`` not in ``class``)
    sensitive_words_ascii_boundary: bool = True
    #: check user messages / filter the model's streamed answer (and reasoning)
    sensitive_words_input: bool = True
    sensitive_words_output: bool = True
    #: most characters the output filter may hold back
    sensitive_words_max_hold: int = Field(1024, ge=16)

    @field_validator("sensitive_words_default_action")
    @classmethod
    def _action(cls, v: str) -> str:
        if v.lower() not in _ACTIONS:
            raise ValueError(f"must be one of {', '.join(_ACTIONS)}")
        return v.lower()

    @field_validator("sensitive_words_categories")
    @classmethod
    def _actions(cls, v: dict[str, str]) -> dict[str, str]:
        for name, action in v.items():
            if str(action).lower() not in _ACTIONS:
                raise ValueError(f"{name}: must be one of {', '.join(_ACTIONS)}")
        return {k: str(a).lower() for k, a in v.items()}
