"""FreeChat kernel exceptions.

::

    FreeChatError
    ├── ConfigError          bad settings (names the key)
    ├── ChainError           middleware misuse (call_next twice, too deep)
    ├── StateError           shared state store unavailable or misused
    ├── StoreError           database problems
    └── LLMError             the model could not answer
        ├── LLMUnavailable   no healthy endpoint / circuit open / connection failed
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

    user_message = "The model is not available right now. Please try again later."


class LLMUnavailable(LLMError):
    user_message = "The model service is unavailable right now. Please try again later."


class LLMTimeout(LLMError):
    user_message = "The model took too long to answer. Please try again."


class LLMBadResponse(LLMError):
    user_message = "The model service returned an error. Please try again later."
