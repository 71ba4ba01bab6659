"""Exceptions of the inference service.

InferenceError
├── ModelLoadError          the model or tokenizer cannot be loaded (names it)
├── EngineStoppedError      a request reached an engine that is not running
├── QueueFullError          too many waiting requests (HTTP 503)
├── OutputFormatError       the output is not what response_format asked for
└── RequestRejectedError    a request the engine cannot serve (HTTP 400)
    └── PromptTooLongError  the prompt exceeds max_prompt_tokens or the cache
"""

from __future__ import annotations


class InferenceError(Exception):
    """Base class of every error raised by `inference`."""


class ModelLoadError(InferenceError):
    """The model (or its tokenizer) could not be loaded."""

    def __init__(self, model: str, reason: str) -> None:
        super().__init__(f"cannot load model {model!r}: {reason}")
        self.model = model
        self.reason = reason


class EngineStoppedError(InferenceError):
    """The engine is not running (not started yet, or stopped)."""


class QueueFullError(InferenceError):
    """The waiting queue is full."""


class OutputFormatError(InferenceError):
    """The output does not have the format the request asked for."""


class RequestRejectedError(InferenceError):
    """A request the engine cannot serve as asked."""


class PromptTooLongError(RequestRejectedError):
    """The prompt does not fit the configured bounds."""

    def __init__(self, prompt_tokens: int, limit: int) -> None:
        super().__init__(
            f"prompt has {prompt_tokens} tokens, more than the limit of {limit}"
        )
        self.prompt_tokens = prompt_tokens
        self.limit = limit
