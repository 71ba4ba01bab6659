"""FreeChat's shared streaming inference service.

A transformers engine with continuous batching on one model thread
(`inference.engine`), an OpenAI-compatible HTTP app (`inference.server`), the
embedded mode used by `freechat run` (`inference.embedded`), the offline demo model
(`inference.demo_model`) and the `freechat inference` command (`inference.cli`).
Heavy imports (torch, transformers) happen in those modules, not here.
"""

from __future__ import annotations

from .config import InferenceConfig
from .exceptions import InferenceError, ModelLoadError

__all__ = ["InferenceConfig", "InferenceError", "ModelLoadError"]
