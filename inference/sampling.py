"""Per-request sampling over one batch of logits.

Each row keeps its own temperature, top_p and random generator (seeded from the
request's `seed`), so a request's tokens depend only on its own logits and
settings, never on which other requests share the batch. Temperature 0 means
greedy (argmax).
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field

import torch


@dataclass(frozen=True)
class SamplingParams:
    """What one request asked for."""

    max_tokens: int
    temperature: float = 1.0
    top_p: float = 1.0
    stop: tuple[str, ...] = ()
    seed: int | None = None

    @property
    def greedy(self) -> bool:
        """Whether the request decodes greedily."""
        return self.temperature <= 0.0


@dataclass
class RowSampler:
    """The sampling state of one running request."""

    params: SamplingParams
    generator: torch.Generator = field(init=False)

    def __post_init__(self) -> None:
        self.generator = torch.Generator()
        seed = self.params.seed
        self.generator.manual_seed(seed if seed is not None else random.getrandbits(63))


def sample(logits: torch.Tensor, rows: list[RowSampler]) -> list[int]:
    """Pick one token per row of `logits` ([rows, vocab]) with each row's settings."""
    chosen = torch.argmax(logits, dim=-1).tolist()
    sampled = [i for i, row in enumerate(rows) if not row.params.greedy]
    if not sampled:
        return [int(t) for t in chosen]
    # Sampled rows continue on the CPU, where each row's generator lives.
    index = torch.tensor(sampled, device=logits.device)
    temps = torch.tensor([rows[i].params.temperature for i in sampled])
    scores = logits.index_select(0, index).float().cpu() / temps.unsqueeze(1)
    top_ps = torch.tensor([rows[i].params.top_p for i in sampled])
    if bool((top_ps < 1.0).any()):
        ordered, order = torch.sort(scores, dim=-1, descending=True)
        cumulative = torch.softmax(ordered, dim=-1).cumsum(dim=-1)
        # Drop a token when the mass before it already reaches top_p; keep the best.
        drop = (cumulative - torch.softmax(ordered, dim=-1)) >= top_ps.unsqueeze(1)
        drop[:, 0] = False
        ordered = ordered.masked_fill(drop, float("-inf"))
        scores = torch.full_like(scores, float("-inf")).scatter(1, order, ordered)
    probs = torch.softmax(scores, dim=-1)
    for slot, row_index in enumerate(sampled):
        generator = rows[row_index].generator
        chosen[row_index] = int(torch.multinomial(probs[slot], 1, generator=generator))
    return [int(t) for t in chosen]
