"""Attention for the CPU decode step: plain matmuls, grouped heads, no copies.

transformers' SDPA path sends a one-token query through
`_scaled_dot_product_flash_attention_for_cpu`, whose fixed cost per call is most
of a decode step's attention time on CPU (2.4 ms of 2.5 ms per layer at a few
hundred tokens of history, Qwen3-0.6B's shape, one thread). For one query per
row the attention is two small matrix products: the query's heads are grouped
by the KV head they share ([rows, kv_heads, group, dim]), so keys and values are
read in place instead of being repeated per head. Prefill (several query tokens)
still takes SDPA. Registered under `ATTENTION` with transformers'
`AttentionInterface`, with SDPA's mask format.
"""

from __future__ import annotations

from typing import Any

import torch
from transformers import AttentionInterface
from transformers.integrations.sdpa_attention import sdpa_attention_forward
from transformers.masking_utils import AttentionMaskInterface, sdpa_mask

ATTENTION = "freechat_decode"


def decode_attention(
    module: torch.nn.Module,
    query: torch.Tensor,
    key: torch.Tensor,
    value: torch.Tensor,
    attention_mask: torch.Tensor | None,
    dropout: float = 0.0,
    scaling: float | None = None,
    **kwargs: Any,
) -> tuple[torch.Tensor, None]:
    """SDPA for prefill; grouped matmuls for a one-token decode step."""
    if query.shape[2] != 1 or kwargs.get("softcap") is not None:
        out: tuple[torch.Tensor, None] = sdpa_attention_forward(
            module,
            query,
            key,
            value,
            attention_mask,
            dropout=dropout,
            scaling=scaling,
            **kwargs,
        )
        return out
    rows, heads, _, dim = query.shape
    kv_heads, length = key.shape[1], key.shape[2]
    grouped = query.view(rows, kv_heads, heads // kv_heads, dim)
    scale = scaling if scaling is not None else dim**-0.5
    scores = torch.matmul(grouped, key.transpose(-1, -2)) * scale
    if attention_mask is not None:
        mask = attention_mask[:, :, -1:, -length:]
        if mask.dtype == torch.bool:
            scores = scores.masked_fill(~mask, float("-inf"))
        else:
            scores = scores + mask
    probs = torch.softmax(scores, dim=-1, dtype=torch.float32).to(value.dtype)
    attended = torch.matmul(probs, value)  # [rows, kv_heads, group, dim]
    return attended.reshape(rows, heads, 1, dim).transpose(1, 2).contiguous(), None


AttentionInterface.register(ATTENTION, decode_attention)
AttentionMaskInterface.register(ATTENTION, sdpa_mask)
