"""Loading a model and its tokenizer by Hugging Face id or local folder.

Offline first: a local folder is read directly; a hub id is looked up in the local
cache (`local_files_only=True`) before any network request, and the network is
tried only when the cache misses and `HF_HUB_OFFLINE` is not set. Downloads and
weight loading show transformers' progress bars; failures become one
`ModelLoadError` that names the model.
"""

from __future__ import annotations

import logging
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .config import InferenceConfig
from .exceptions import ModelLoadError

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class LoadedModel:
    """A model ready for the engine: weights, tokenizer and what they stop on."""

    name: str
    source: str
    model: Any
    tokenizer: Any
    eos_token_ids: frozenset[int]
    is_demo: bool = False


def resolve_dtype(config: InferenceConfig) -> Any:
    """Map the `dtype` setting to a torch dtype ("auto": float32 on CPU)."""
    import torch

    if config.dtype == "auto":
        return torch.float32 if config.device == "cpu" else "auto"
    return getattr(torch, config.dtype)


def _offline() -> bool:
    return os.environ.get("HF_HUB_OFFLINE", "").strip().lower() in {"1", "true", "yes"}


def _from_pretrained(cls: Any, source: str, **kwargs: Any) -> Any:
    """Cache first, network second (unless offline), for one Auto* class."""
    if Path(source).is_dir():
        return cls.from_pretrained(source, **kwargs)
    try:
        return cls.from_pretrained(source, local_files_only=True, **kwargs)
    except OSError:
        if _offline():
            raise
    log.info("model %s is not in the local cache; downloading", source)
    return cls.from_pretrained(source, **kwargs)


def eos_ids(model: Any, tokenizer: Any) -> frozenset[int]:
    """Every token id that ends a generation for this model."""
    ids: set[int] = set()
    configured = getattr(model.generation_config, "eos_token_id", None)
    if isinstance(configured, int):
        ids.add(configured)
    elif configured:
        ids.update(int(i) for i in configured)
    if tokenizer.eos_token_id is not None:
        ids.add(int(tokenizer.eos_token_id))
    im_end = tokenizer.convert_tokens_to_ids("<|im_end|>")
    if isinstance(im_end, int) and im_end != tokenizer.unk_token_id:
        ids.add(im_end)
    return frozenset(ids)


def load_model(
    config: InferenceConfig, source: str | None = None, *, is_demo: bool = False
) -> LoadedModel:
    """Load `source` (default `config.model`) for inference on `config.device`."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    target = source or config.model
    started = time.perf_counter()
    log.info("loading model %s on %s", target, config.device)
    common: dict[str, Any] = {"trust_remote_code": config.trust_remote_code}
    if config.revision and not Path(target).is_dir():
        common["revision"] = config.revision
    try:
        tokenizer = _from_pretrained(AutoTokenizer, target, **common)
        model = _from_pretrained(
            AutoModelForCausalLM, target, dtype=resolve_dtype(config), **common
        )
    except (OSError, ValueError, ImportError, RuntimeError) as exc:
        raise ModelLoadError(
            target, str(exc).splitlines()[0] or type(exc).__name__
        ) from exc
    model.to(config.device)
    model.eval()
    if tokenizer.pad_token_id is None:
        tokenizer.pad_token = tokenizer.eos_token
    name = config.served_model_name or (
        Path(target).name if Path(target).is_dir() else target
    )
    if is_demo and not config.served_model_name:
        name = "freechat-demo"
    loaded = LoadedModel(
        name=name,
        source=target,
        model=model,
        tokenizer=tokenizer,
        eos_token_ids=eos_ids(model, tokenizer),
        is_demo=is_demo,
    )
    log.info("loaded model %s in %.1f s", target, time.perf_counter() - started)
    return loaded
