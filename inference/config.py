"""Settings of the inference service.

One pydantic model, `InferenceConfig`, is shared by the standalone server
(`freechat inference`), the embedded engine that `freechat run` starts in-process,
and the benchmark. Every bound the engine relies on lives here: batch size, the KV
cache budget in tokens (transformers' default of 60% of RAM is never used), prompt
and output lengths, and the request body size.
"""

from __future__ import annotations

import os
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

DEFAULT_MODEL = "Qwen/Qwen3-0.6B"


class InferenceConfig(BaseModel):
    """Settings of one inference engine and its HTTP app."""

    model_config = ConfigDict(extra="forbid", protected_namespaces=())

    model: str = Field(
        default=DEFAULT_MODEL,
        description="Hugging Face model id or a local folder.",
    )
    served_model_name: str | None = Field(
        default=None,
        description="Name reported by /v1/models; defaults to the model id or folder name.",
    )
    device: str = Field(default="cpu", description="torch device, e.g. cpu or cuda:0.")
    dtype: Literal["auto", "float32", "bfloat16", "float16"] = Field(
        default="auto",
        description=(
            "auto: bfloat16 on CPUs with bfloat16 instructions (avx512_bf16, amx),"
            " float32 on other CPUs, the checkpoint's dtype on GPUs."
        ),
    )
    revision: str | None = None
    trust_remote_code: bool = False
    max_batch_size: int = Field(default=16, ge=1, le=256)
    kv_cache_tokens: int = Field(
        default=16384,
        ge=64,
        description=(
            "Upper bound of KV cache slots (batch rows x padded length). A request is"
            " admitted only when rows x the longest prompt + max_tokens fit. Memory"
            " per slot: layers x 2 x kv_heads x head_dim x dtype bytes (Qwen3-0.6B in"
            " float32: 112 KiB, so 16384 slots = 1.8 GiB)."
        ),
    )
    max_prompt_tokens: int = Field(default=4096, ge=1)
    default_max_tokens: int = Field(default=512, ge=1)
    max_tokens_limit: int = Field(default=4096, ge=1)
    max_queue: int = Field(
        default=256, ge=1, description="Waiting requests before 503."
    )
    max_body_bytes: int = Field(default=1 << 20, ge=1024)
    prefill_chunk_tokens: int = Field(
        default=512,
        ge=16,
        description=(
            "Most prompt tokens prefilled between two decode steps. Short prompts"
            " are prefilled together up to this total; a longer prompt, or one whose"
            " prefix is cached, is prefilled alone in chunks of this size, one chunk"
            " per decode step, so running streams keep flowing while it is admitted."
        ),
    )
    prefix_cache_tokens: int = Field(
        default=8192,
        ge=0,
        description=(
            "Prompt tokens whose KV blocks are kept for reuse by later prompts that"
            " start with them (system prompts, earlier turns); least recently used"
            " blocks leave first. 0 turns prefix caching off. Memory per token as for"
            " kv_cache_tokens."
        ),
    )
    prefix_block_tokens: int = Field(
        default=16,
        ge=1,
        le=1024,
        description="Tokens per cached block: prefixes are reused in whole blocks.",
    )
    num_threads: int | None = Field(
        default=None,
        ge=1,
        description=(
            "torch intra-op threads. None: one less than the CPU count (at least 1),"
            " so the event loop and the network always have a core."
        ),
    )
    demo_model_dir: str = "data/demo-model"
    fallback_to_demo: bool = True
    host: str = "127.0.0.1"
    port: int = Field(default=8081, ge=0, le=65535)

    def torch_threads(self) -> int:
        """Intra-op threads for the model thread."""
        if self.num_threads is not None:
            return self.num_threads
        return max(1, (os.cpu_count() or 2) - 1)
