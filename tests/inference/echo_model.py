"""A scripted model for tests: its greedy answer is the last user message, verbatim.

`EchoLM` keeps each row's token ids in the KV cache (as one-dimensional "keys"),
so at every step it sees the row's whole history however the engine batched,
padded, chunked or cached it. It finds the last `<|im_start|>` (the assistant
header the chat template appended), counts the tokens generated after the header,
and puts all the probability on the next token of the last user message, then on
`<|im_end|>`. A test chooses the output by choosing the message: a tool call in
Qwen3's format, a JSON object, or text that is not JSON.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
from transformers import Qwen3Config

from inference.loader import LoadedModel, eos_ids


@dataclass
class _Output:
    logits: torch.Tensor
    past_key_values: Any


class EchoLM(torch.nn.Module):
    """Answers with the last user message (greedy), then `<|im_end|>`."""

    def __init__(self, tokenizer: Any) -> None:
        super().__init__()
        self.config = Qwen3Config(
            vocab_size=len(tokenizer),
            hidden_size=8,
            intermediate_size=8,
            num_hidden_layers=1,
            num_attention_heads=1,
            num_key_value_heads=1,
            head_dim=1,
        )
        self.generation_config = type("G", (), {"eos_token_id": None})()
        self.vocab = len(tokenizer)
        self.start = int(tokenizer.convert_tokens_to_ids("<|im_start|>"))
        self.end = int(tokenizer.convert_tokens_to_ids("<|im_end|>"))
        self.assistant = len(tokenizer.encode("assistant\n", add_special_tokens=False))
        self.user = len(tokenizer.encode("user\n", add_special_tokens=False))

    def _next(self, history: list[int]) -> int:
        starts = [i for i, t in enumerate(history) if t == self.start]
        if len(starts) < 2:
            return self.end
        header, user = starts[-1], starts[-2]
        message = history[user + 1 + self.user : header]
        message = message[: message.index(self.end)] if self.end in message else []
        done = len(history) - (header + 1 + self.assistant)
        return message[done] if 0 <= done < len(message) else self.end

    def forward(
        self,
        input_ids: torch.Tensor,
        past_key_values: Any,
        **_: Any,
    ) -> _Output:
        """Store the ids as keys; next-token logits from each row's history."""
        ids = input_ids.to(torch.float32)[:, None, :, None]
        keys, _values = past_key_values.layers[0].update(ids, ids.clone())
        logits = torch.zeros((input_ids.shape[0], 1, self.vocab))
        for row in range(input_ids.shape[0]):
            history = [int(t) for t in keys[row, 0, :, 0].tolist()]
            logits[row, 0, self._next(history)] = 20.0
        return _Output(logits, past_key_values)


def echo_loaded(tokenizer: Any) -> LoadedModel:
    """An `EchoLM` over `tokenizer`, ready for an engine."""
    model = EchoLM(tokenizer).eval()
    return LoadedModel(
        name="echo",
        source="echo",
        model=model,
        tokenizer=tokenizer,
        eos_token_ids=eos_ids(model, tokenizer),
    )
