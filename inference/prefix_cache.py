"""Automatic prefix caching: KV blocks of earlier prompts, reused by later ones.

A prompt is cut into blocks of `block_tokens` tokens. Each full block is keyed by
its tokens and its parent block's key (the chain of everything before it, as in
vLLM), so a block is shared only by prompts that agree on every token up to its
end: a system prompt shared by many chats, or a conversation whose next turn
resends the history. `match` walks the chain of a new prompt as far as it is
cached and returns the cached KV of those tokens; the engine then prefills only
the rest. At least one token is always left to prefill, since the next-token
logits come from the last prompt token.

The store is an LRU bounded in tokens. A lookup touches the chain from its last
block to its first, so leaves leave before the blocks they hang from (a child
without its parent could never be matched again). Blocks hold copies of the
KV (one tensor pair per layer: [kv_heads, block_tokens, head_dim]) in the
model's dtype, on the model's device.
"""

from __future__ import annotations

import collections
from dataclasses import dataclass

import torch

LayerKV = list[tuple[torch.Tensor, torch.Tensor]]  # per layer: keys, values


@dataclass(eq=False)
class _Block:
    key: int
    parent: int
    tokens: tuple[int, ...]
    kv: LayerKV


def _key(parent: int, tokens: tuple[int, ...]) -> int:
    return hash((parent, tokens))


class PrefixCache:
    """LRU of prompt KV blocks, at most `max_tokens` tokens in all."""

    def __init__(self, block_tokens: int, max_tokens: int) -> None:
        self.block_tokens = block_tokens
        self.max_blocks = max_tokens // block_tokens
        self._blocks: collections.OrderedDict[int, _Block] = collections.OrderedDict()
        self.evicted_blocks = 0

    @property
    def enabled(self) -> bool:
        """Whether anything can be cached at all."""
        return self.max_blocks > 0

    @property
    def tokens(self) -> int:
        """Tokens held now."""
        return len(self._blocks) * self.block_tokens

    def _chain(self, ids: list[int], limit: int) -> list[_Block]:
        size, parent = self.block_tokens, 0
        found: list[_Block] = []
        for start in range(0, limit - size + 1, size):
            tokens = tuple(ids[start : start + size])
            block = self._blocks.get(_key(parent, tokens))
            if block is None or block.tokens != tokens or block.parent != parent:
                break
            found.append(block)
            parent = block.key
        return found

    def match(self, ids: list[int]) -> tuple[int, LayerKV | None]:
        """(cached tokens, their KV per layer as [1, heads, n, dim]) for `ids`."""
        if not self.enabled or len(ids) <= self.block_tokens:
            return 0, None
        chain = self._chain(ids, len(ids) - 1)
        if not chain:
            return 0, None
        for block in reversed(chain):
            self._blocks.move_to_end(block.key)
        layers = len(chain[0].kv)
        kv: LayerKV = []
        for layer in range(layers):
            keys = torch.cat([b.kv[layer][0] for b in chain], dim=1).unsqueeze(0)
            values = torch.cat([b.kv[layer][1] for b in chain], dim=1).unsqueeze(0)
            kv.append((keys, values))
        return len(chain) * self.block_tokens, kv

    def store(self, ids: list[int], kv: LayerKV) -> None:
        """Cache the full blocks of `ids`, whose KV per layer is [heads, len, dim].

        `kv` may be a view into a running batch: blocks copy what they keep.
        """
        if not self.enabled:
            return
        size = self.block_tokens
        known = self._chain(ids, len(ids))
        parent = known[-1].key if known else 0
        chain = list(known)
        for start in range(len(known) * size, len(ids) - size + 1, size):
            tokens = tuple(ids[start : start + size])
            block = _Block(
                _key(parent, tokens),
                parent,
                tokens,
                [
                    (
                        k[:, start : start + size].clone(),
                        v[:, start : start + size].clone(),
                    )
                    for k, v in kv
                ],
            )
            self._blocks[block.key] = block
            chain.append(block)
            parent = block.key
        for block in reversed(chain):
            self._blocks.move_to_end(block.key)
        while len(self._blocks) > self.max_blocks:
            self._blocks.popitem(last=False)
            self.evicted_blocks += 1

    def clear(self) -> None:
        """Drop every block."""
        self._blocks.clear()
