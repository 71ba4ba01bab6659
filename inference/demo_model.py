"""A tiny Qwen3-architecture model with random weights, built offline.

`build_demo_model(path)` trains a byte-level BPE tokenizer (vocab 8192, Qwen2-style
pre-tokenizer, ChatML special tokens) on text found on this machine: translated
strings of gettext catalogues under /usr/share/locale (Chinese first) and Python
standard-library sources, both read in sorted order and capped, so the result is
the same on every run. When the catalogues are missing, stdlib sources alone are
enough; when both are missing a small built-in text keeps the build working. The
model is `Qwen3ForCausalLM` with ~5M parameters seeded with `torch.manual_seed`.
It loads with `AutoModelForCausalLM` / `AutoTokenizer` and speaks gibberish: it is
for tests, demos and benchmarks, not for answers.

The build writes into a temporary sibling folder and renames it into place, so a
half-written model is never mistaken for a finished one; a finished folder carries
`freechat-demo.json` and makes later calls return at once.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import struct
import sysconfig
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

MARKER = "freechat-demo.json"
VOCAB_SIZE = 8192
SPECIAL_TOKENS = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]
# Plain added tokens, as in Qwen3: decoded as text, so reasoning stays visible.
THINK_TOKENS = ["<think>", "</think>"]
# Qwen2's pre-tokenizer pattern (digits one by one, letters with one leading mark).
PRETOKENIZE_REGEX = (
    r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}"
    r"| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"
)
CHAT_TEMPLATE = (
    "{%- for message in messages %}"
    "{{- '<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>\\n' }}"
    "{%- endfor %}"
    "{%- if add_generation_prompt %}{{- '<|im_start|>assistant\\n' }}{%- endif %}"
)
LOCALE_DIR = Path("/usr/share/locale")
LOCALE_BUDGET = 5 << 20
STDLIB_BUDGET = 3 << 20
FALLBACK_TEXT = (
    "FreeChat demo model. 这是一个演示模型，权重是随机的。"
    "Hello, world! 你好，世界！The quick brown fox jumps over the lazy dog. "
    "春眠不觉晓，处处闻啼鸟。夜来风雨声，花落知多少。0123456789 "
)

DEMO_SHAPE: dict[str, int] = {
    "hidden_size": 256,
    "intermediate_size": 768,
    "num_hidden_layers": 4,
    "num_attention_heads": 4,
    "num_key_value_heads": 2,
    "head_dim": 64,
}


def _mo_strings(path: Path) -> Iterator[str]:
    """Yield the translated strings of one gettext .mo file (skips bad files)."""
    try:
        data = path.read_bytes()
    except OSError:
        return
    if len(data) < 28:
        return
    magic = struct.unpack("<I", data[:4])[0]
    endian = "<" if magic == 0x950412DE else ">" if magic == 0xDE120495 else ""
    if not endian:
        return
    count, _orig, trans = struct.unpack(endian + "III", data[8:20])
    for i in range(count):
        entry = trans + 8 * i
        if entry + 8 > len(data):
            return
        length, offset = struct.unpack(endian + "II", data[entry : entry + 8])
        chunk = data[offset : offset + length]
        if chunk and not chunk.startswith(b"Project-Id-Version"):
            yield chunk.replace(b"\x00", b"\n").decode("utf-8", "ignore")


def _locale_text(budget: int) -> list[str]:
    """Catalogue strings, Simplified Chinese first, then Traditional, then English."""
    texts: list[str] = []
    used = 0
    for lang in ("zh_CN", "zh_TW", "en_GB"):
        folder = LOCALE_DIR / lang / "LC_MESSAGES"
        if not folder.is_dir():
            continue
        for mo in sorted(folder.glob("*.mo")):
            for text in _mo_strings(mo):
                texts.append(text)
                used += len(text.encode())
                if used >= budget:
                    return texts
    return texts


def _stdlib_text(budget: int) -> list[str]:
    """Python standard-library sources, sorted by path, up to `budget` bytes."""
    root = Path(sysconfig.get_paths()["stdlib"])
    texts: list[str] = []
    used = 0
    if not root.is_dir():
        return texts
    for source in sorted(root.glob("*.py")) + sorted(root.glob("*/*.py")):
        relative = source.relative_to(root).parts
        if relative[0] == "site-packages" or any(
            p.startswith("test") for p in relative
        ):
            continue
        try:
            text = source.read_text("utf-8")
        except (OSError, UnicodeDecodeError):
            continue
        texts.append(text)
        used += len(text.encode())
        if used >= budget:
            break
    return texts


def corpus() -> list[str]:
    """The training text: catalogues + stdlib, or whatever of them exists."""
    texts = _locale_text(LOCALE_BUDGET) + _stdlib_text(STDLIB_BUDGET)
    texts.append(FALLBACK_TEXT * 4)
    return texts


def train_tokenizer(texts: list[str]) -> Any:
    """Train the byte-level BPE `tokenizers.Tokenizer` on `texts`."""
    from tokenizers import Regex, Tokenizer, decoders, models, pre_tokenizers, trainers

    tokenizer = Tokenizer(models.BPE())
    tokenizer.pre_tokenizer = pre_tokenizers.Sequence(
        [
            pre_tokenizers.Split(Regex(PRETOKENIZE_REGEX), behavior="isolated"),
            pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False),
        ]
    )
    tokenizer.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=VOCAB_SIZE - len(THINK_TOKENS),
        min_frequency=2,
        special_tokens=SPECIAL_TOKENS,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tokenizer.train_from_iterator(texts, trainer=trainer)
    tokenizer.add_tokens(THINK_TOKENS)
    return tokenizer


def is_valid_model(path: Path) -> bool:
    """Whether `path` holds a finished demo (or bench) model."""
    names = (MARKER, "config.json", "model.safetensors", "tokenizer.json")
    return all((path / name).is_file() for name in names)


def build_random_model(
    path: str | os.PathLike[str],
    *,
    seed: int = 0,
    shape: dict[str, int] | None = None,
    tokenizer_from: str | os.PathLike[str] | None = None,
) -> Path:
    """Build a random-weight Qwen3 model of `shape` at `path` (idempotent).

    `tokenizer_from` reuses the tokenizer of an existing model folder instead of
    training one (the benchmark's larger model shares the demo tokenizer).
    """
    import torch
    from transformers import PreTrainedTokenizerFast, Qwen3Config, Qwen3ForCausalLM

    target = Path(path)
    if is_valid_model(target):
        return target
    dims: dict[str, Any] = dict(DEMO_SHAPE if shape is None else shape)
    target.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
    try:
        if tokenizer_from is not None:
            fast: Any = PreTrainedTokenizerFast.from_pretrained(str(tokenizer_from))
        else:
            factory: Any = PreTrainedTokenizerFast
            fast = factory(
                tokenizer_object=train_tokenizer(corpus()),
                bos_token=None,
                eos_token="<|im_end|>",
                pad_token="<|endoftext|>",
                padding_side="left",
                model_max_length=32768,
            )
            fast.chat_template = CHAT_TEMPLATE
        fast.save_pretrained(str(work))
        vocab = fast.convert_tokens_to_ids(SPECIAL_TOKENS[:3])
        config = Qwen3Config(
            vocab_size=VOCAB_SIZE,
            max_position_embeddings=32768,
            tie_word_embeddings=True,
            bos_token_id=vocab[0],
            eos_token_id=vocab[2],
            pad_token_id=vocab[0],
            **dims,
        )
        torch.manual_seed(seed)
        model = Qwen3ForCausalLM(config)
        model.generation_config.eos_token_id = [vocab[2], vocab[0]]
        model.generation_config.pad_token_id = vocab[0]
        model.save_pretrained(str(work))
        params = sum(p.numel() for p in model.parameters())
        (work / MARKER).write_text(
            json.dumps({"seed": seed, "parameters": params, **dims}, sort_keys=True)
        )
        work.chmod(0o755)
        if target.exists() and not is_valid_model(target):
            shutil.rmtree(target)
        try:
            work.rename(target)
        except OSError:
            # Someone else finished first: theirs is as good as ours.
            if not is_valid_model(target):
                raise
    finally:
        if work.exists():
            shutil.rmtree(work, ignore_errors=True)
    log.info("built random-weight model at %s", target)
    return target


def build_demo_model(path: str | os.PathLike[str], *, seed: int = 0) -> Path:
    """Build the ~5M-parameter demo model at `path`; return at once if it exists."""
    return build_random_model(path, seed=seed)
