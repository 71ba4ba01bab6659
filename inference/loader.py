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
import socket
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from .config import InferenceConfig
from .exceptions import ModelLoadError

log = logging.getLogger(__name__)

# Files a causal LM needs; skips duplicate weight formats (.bin, .pth, onnx, gguf).
_WANTED = [
    "*.json",
    "*.safetensors",
    "*.txt",
    "*.model",
    "*.jinja",
    "*.tiktoken",
    "*.py",
]


@dataclass(frozen=True)
class LoadedModel:
    """A model ready for the engine: weights, tokenizer and what they stop on."""

    name: str
    source: str
    model: Any
    tokenizer: Any
    eos_token_ids: frozenset[int]
    is_demo: bool = False
    default_temperature: float = 1.0
    default_top_p: float = 1.0


def cpu_has_bf16(cpuinfo: str = "/proc/cpuinfo") -> bool:
    """Whether the CPU multiplies bfloat16 natively (AVX512-BF16 or AMX)."""
    try:
        text = Path(cpuinfo).read_text(errors="replace")
    except OSError:
        return False
    for line in text.splitlines():
        if line.startswith("flags"):
            flags = set(line.split(":", 1)[-1].split())
            return bool(flags & {"avx512_bf16", "amx_bf16"})
    return False


def resolve_dtype(config: InferenceConfig) -> Any:
    """Map the `dtype` setting to a torch dtype.

    "auto" on CPU: bfloat16 where the CPU has bfloat16 instructions (half the
    memory traffic per token, and decoding is bound by it), float32 elsewhere
    (emulated bfloat16 is slower than float32).
    """
    import torch

    if config.dtype == "auto":
        if config.device != "cpu":
            return "auto"
        return torch.bfloat16 if cpu_has_bf16() else torch.float32
    return getattr(torch, config.dtype)


def _offline() -> bool:
    return os.environ.get("HF_HUB_OFFLINE", "").strip().lower() in {"1", "true", "yes"}


def _hub_reachable(timeout: float = 3.0) -> bool:
    """Whether the hub endpoint answers a TCP connect (assumed when a proxy is set)."""
    if any(os.environ.get(k) for k in ("HTTPS_PROXY", "https_proxy", "ALL_PROXY")):
        return True
    endpoint = urlparse(os.environ.get("HF_ENDPOINT", "https://huggingface.co"))
    port = endpoint.port or (443 if endpoint.scheme == "https" else 80)
    try:
        socket.create_connection((endpoint.hostname or "", port), timeout).close()
    except OSError:
        return False
    return True


def resolve_source(source: str, revision: str | None = None) -> Path:
    """A local folder holding `source`: the folder itself, the cache, or a download.

    The cache is tried first and the network only when it misses, unless
    `HF_HUB_OFFLINE` is set or the hub cannot be reached (checked with one quick
    connect, so an offline machine fails in seconds, not after minutes of retries).
    """
    path = Path(source).expanduser()
    if path.is_dir():
        return path
    if source.startswith(("/", ".", "~")) or source.count("/") != 1:
        raise ModelLoadError(source, "no such folder, and not a Hugging Face id")
    from huggingface_hub import snapshot_download
    from huggingface_hub.errors import HFValidationError, LocalEntryNotFoundError

    try:
        return Path(snapshot_download(source, revision=revision, local_files_only=True))
    except LocalEntryNotFoundError:
        pass
    except HFValidationError as exc:
        raise ModelLoadError(source, str(exc).splitlines()[0]) from exc
    if _offline():
        raise ModelLoadError(source, "not in the local cache and HF_HUB_OFFLINE is set")
    if not _hub_reachable():
        raise ModelLoadError(
            source, "not in the local cache and the Hugging Face hub cannot be reached"
        )
    log.info("model %s is not in the local cache; downloading", source)
    try:
        folder = snapshot_download(source, revision=revision, allow_patterns=_WANTED)
    except (OSError, ValueError) as exc:
        raise ModelLoadError(source, str(exc).splitlines()[0]) from exc
    return Path(folder)


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


def sampling_defaults(model: Any) -> dict[str, float]:
    """The checkpoint's recommended temperature/top_p (as vLLM uses them)."""
    config = model.generation_config
    if not getattr(config, "do_sample", False):
        return {}
    defaults: dict[str, float] = {}
    if isinstance(config.temperature, int | float) and config.temperature > 0:
        defaults["default_temperature"] = float(config.temperature)
    if isinstance(config.top_p, int | float) and 0 < config.top_p <= 1:
        defaults["default_top_p"] = float(config.top_p)
    return defaults


def load_model(
    config: InferenceConfig, source: str | None = None, *, is_demo: bool = False
) -> LoadedModel:
    """Load `source` (default `config.model`) for inference on `config.device`."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    target = source or config.model
    started = time.perf_counter()
    log.info("loading model %s on %s", target, config.device)
    folder = str(resolve_source(target, config.revision))
    remote = {"trust_remote_code": config.trust_remote_code}
    try:
        tokenizer: Any = AutoTokenizer.from_pretrained(folder, **remote)
        model: Any = AutoModelForCausalLM.from_pretrained(
            folder, dtype=resolve_dtype(config), **remote
        )
    except (OSError, ValueError, ImportError, RuntimeError, KeyError) as exc:
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise ModelLoadError(target, reason) from exc
    model.to(config.device)
    model.eval()
    if config.device == "cpu" and getattr(model, "_supports_attention_backend", False):
        from .attention import ATTENTION

        model.set_attn_implementation(ATTENTION)
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
        **sampling_defaults(model),
    )
    log.info("loaded model %s in %.1f s", target, time.perf_counter() - started)
    return loaded
