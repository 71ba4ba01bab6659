"""FreeChat kernel exceptions.

::

    FreeChatError
    ├── ConfigError          bad settings (names the key)
    ├── ChainError           middleware misuse (call_next twice, too deep)
    ├── StateError           shared state store unavailable or misused
    ├── StoreError           database problems
    └── LLMError             the model could not answer
        ├── LLMUnavailable   no healthy endpoint / circuit open / connection failed
        │   └── LLMNotResponding  circuit open or endpoint full: refused at once
        ├── LLMTimeout       no first token or no progress in time
        └── LLMBadResponse   upstream answered with an error status or bad data
"""

from __future__ import annotations


class FreeChatError(Exception):
    """Base of every FreeChat kernel error."""


class ConfigError(FreeChatError):
    """A setting has a bad value; the message names the key."""


class ChainError(FreeChatError):
    """The middleware chain was misused."""


class StateError(FreeChatError):
    """The shared state store failed."""


class StoreError(FreeChatError):
    """The database failed."""


class LLMError(FreeChatError):
    """The model could not answer. ``user_message`` is safe to show to a user."""

    user_message = (
        "The model is not available right now. Please try again later. "
        "模型暂时不可用，请稍后再试。"
    )


class LLMUnavailable(LLMError):
    user_message = (
        "The model service is unavailable right now. Please try again later. "
        "模型服务暂时不可用，请稍后再试。"
    )


class LLMNotResponding(LLMUnavailable):
    """Refused without a request: the endpoints' circuits are open (a probe is
    already out) or every endpoint has its most requests in flight."""

    user_message = (
        "The model is not responding right now. Please try again in a moment. "
        "模型没有响应，请稍后再试。"
    )


class LLMTimeout(LLMError):
    user_message = (
        "The model is not responding right now. Please try again in a moment. "
        "模型没有响应，请稍后再试。"
    )


class LLMBadResponse(LLMError):
    user_message = (
        "The model service returned an error. Please try again later. "
        "模型服务出错了，请稍后再试。"
    )
