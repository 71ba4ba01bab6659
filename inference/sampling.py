"""Per-request sampling over one batch of logits.

Each row keeps its own settings, token counts and random generator (seeded from
the request's `seed`), so a request's tokens depend only on its own logits and
settings, never on which other requests share the batch. The order is vLLM's:
penalties on the raw logits (repetition over prompt and output, presence and
frequency over the output), then greedy argmax (temperature 0), else temperature,
top-k, top-p, min-p and a draw. Log-probabilities, when asked for, are those of
the model's raw distribution (as OpenAI and vLLM report them).
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field, replace

import torch


@dataclass(frozen=True)
class SamplingParams:
    """What one request asked for."""

    max_tokens: int
    temperature: float = 1.0
    top_p: float = 1.0
    stop: tuple[str, ...] = ()
    seed: int | None = None
    top_k: int = 0  # 0: off
    min_p: float = 0.0
    presence_penalty: float = 0.0
    frequency_penalty: float = 0.0
    repetition_penalty: float = 1.0
    logprobs: int | None = None  # None: none; k >= 0: the chosen token and top k
    ignore_eos: bool = False

    @property
    def greedy(self) -> bool:
        """Whether the request decodes greedily."""
        return self.temperature <= 0.0

    @property
    def penalized(self) -> bool:
        """Whether any penalty changes the logits."""
        return (
            self.presence_penalty != 0.0
            or self.frequency_penalty != 0.0
            or self.repetition_penalty != 1.0
        )

    def with_max_tokens(self, max_tokens: int) -> SamplingParams:
        """A copy with another `max_tokens`."""
        return replace(self, max_tokens=max_tokens)


@dataclass(frozen=True)
class TokenLogprob:
    """The log-probability of one chosen token and of the best alternatives."""

    token: int
    logprob: float
    top: tuple[tuple[int, float], ...] = ()


@dataclass
class RowSampler:
    """The sampling state of one running request."""

    params: SamplingParams
    prompt_ids: list[int] = field(default_factory=list)
    generator: torch.Generator = field(init=False)
    _counts: dict[int, int] = field(init=False, default_factory=dict)
    _seen: set[int] = field(init=False, default_factory=set)

    def __post_init__(self) -> None:
        self.generator = torch.Generator()
        seed = self.params.seed
        self.generator.manual_seed(seed if seed is not None else random.getrandbits(63))
        if self.params.repetition_penalty != 1.0:
            self._seen = set(self.prompt_ids)

    def record(self, token: int) -> None:
        """Count a chosen token (for the penalties)."""
        if self.params.penalized:
            self._counts[token] = self._counts.get(token, 0) + 1
            self._seen.add(token)

    def penalize(self, scores: torch.Tensor) -> torch.Tensor:
        """Apply this row's penalties to its logits ([vocab], float32)."""
        params = self.params
        if params.repetition_penalty != 1.0 and self._seen:
            index = torch.tensor(sorted(self._seen), dtype=torch.long)
            picked = scores.index_select(0, index)
            penalty = params.repetition_penalty
            picked = torch.where(picked > 0, picked / penalty, picked * penalty)
            scores = scores.index_copy(0, index, picked)
        if self._counts and (params.presence_penalty or params.frequency_penalty):
            index = torch.tensor(list(self._counts), dtype=torch.long)
            counts = torch.tensor(list(self._counts.values()), dtype=torch.float32)
            cut = params.frequency_penalty * counts + params.presence_penalty
            scores = scores.index_add(0, index, -cut)
        return scores


def _filter(scores: torch.Tensor, params: SamplingParams) -> torch.Tensor:
    """Temperature-scaled scores of one row with top-k, top-p and min-p applied."""
    if params.top_k > 0 and params.top_k < scores.shape[-1]:
        kth = torch.topk(scores, params.top_k).values[-1]
        scores = scores.masked_fill(scores < kth, float("-inf"))
    if params.top_p < 1.0:
        ordered, order = torch.sort(scores, descending=True)
        probs = torch.softmax(ordered, dim=-1)
        # Drop a token when the mass before it already reaches top_p; keep the best.
        drop = (probs.cumsum(dim=-1) - probs) >= params.top_p
        drop[0] = False
        ordered = ordered.masked_fill(drop, float("-inf"))
        scores = torch.full_like(scores, float("-inf")).scatter(0, order, ordered)
    if params.min_p > 0.0:
        probs = torch.softmax(scores, dim=-1)
        scores = scores.masked_fill(probs < params.min_p * probs.max(), float("-inf"))
    return scores


def sample(
    logits: torch.Tensor, rows: list[RowSampler]
) -> tuple[list[int], list[TokenLogprob | None]]:
    """One token per row of `logits` ([rows, vocab]) with each row's settings.

    Returns the tokens and, for rows that asked, their log-probabilities.
    """
    logits = logits.float()
    chosen = [int(t) for t in torch.argmax(logits, dim=-1).tolist()]
    special = [
        i for i, r in enumerate(rows) if r.params.penalized or not r.params.greedy
    ]
    # Rows with penalties or sampling continue on the CPU, row by row: each has
    # its own generator and counts, and batches are small.
    cpu = logits.cpu() if special else logits
    for i in special:
        params = rows[i].params
        scores = rows[i].penalize(cpu[i]) if params.penalized else cpu[i]
        if params.greedy:
            chosen[i] = int(torch.argmax(scores))
            continue
        scores = _filter(scores / params.temperature, params)
        probs = torch.softmax(scores, dim=-1)
        chosen[i] = int(torch.multinomial(probs, 1, generator=rows[i].generator))
    for row, token in zip(rows, chosen, strict=True):
        row.record(token)
    return chosen, _logprobs(logits, rows, chosen)


def _logprobs(
    logits: torch.Tensor, rows: list[RowSampler], chosen: list[int]
) -> list[TokenLogprob | None]:
    wanted = [i for i, r in enumerate(rows) if r.params.logprobs is not None]
    out: list[TokenLogprob | None] = [None] * len(rows)
    if not wanted:
        return out
    index = torch.tensor(wanted, device=logits.device)
    logp = torch.log_softmax(logits.index_select(0, index), dim=-1).cpu()
    for slot, i in enumerate(wanted):
        k = rows[i].params.logprobs or 0
        top: tuple[tuple[int, float], ...] = ()
        if k:
            values, ids = torch.topk(logp[slot], k)
            top = tuple(
                (int(t), float(v))
                for t, v in zip(ids.tolist(), values.tolist(), strict=True)
            )
        out[i] = TokenLogprob(chosen[i], float(logp[slot, chosen[i]]), top)
    return out
