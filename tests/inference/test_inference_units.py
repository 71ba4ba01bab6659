"""Pure pieces: stop strings, the reasoning splitter, incremental detokenizing."""

from __future__ import annotations

from pathlib import Path

from inference.loader import LoadedModel
from inference.reasoning import ReasoningSplitter
from inference.textstream import StopMatcher, TextStream


def feed_all(matcher: StopMatcher, pieces: list[str]) -> tuple[str, bool]:
    out = []
    for piece in pieces:
        text, stopped = matcher.feed(piece)
        out.append(text)
        if stopped:
            return "".join(out), True
    return "".join(out) + matcher.flush(), False


def test_stop_string_split_across_pieces() -> None:
    assert feed_all(StopMatcher(("END",)), ["abc E", "N", "D tail"]) == ("abc ", True)


def test_stop_prefix_released_when_no_stop() -> None:
    matcher = StopMatcher(("END",))
    assert matcher.feed("abcE") == ("abc", False)
    assert matcher.feed("x") == ("Ex", False)
    assert matcher.flush() == ""


def test_earliest_stop_wins() -> None:
    assert feed_all(StopMatcher(("。", "b")), ["a你好。b"]) == ("a你好", True)


def test_no_stops_passes_through() -> None:
    assert StopMatcher(()).feed("E") == ("E", False)


def split_all(pieces: list[str]) -> tuple[str, str]:
    splitter = ReasoningSplitter()
    reasoning, content = [], []
    for piece in [*pieces, None]:
        r, c = splitter.flush() if piece is None else splitter.feed(piece)
        reasoning.append(r)
        content.append(c)
    return "".join(reasoning), "".join(content)


def test_reasoning_split_with_tags_in_pieces() -> None:
    pieces = ["<th", "ink>\n想一", "想</th", "ink>\n\n答案", "是 42"]
    assert split_all(pieces) == ("\n想一想", "答案是 42")


def test_reasoning_absent_means_all_content() -> None:
    assert split_all(["你好", "<think>"]) == ("", "你好<think>")


def test_reasoning_unterminated_is_reasoning() -> None:
    assert split_all(["<think>abc</thi"]) == ("abc</thi", "")


def test_chinese_streams_one_character_at_a_time(demo_loaded: LoadedModel) -> None:
    tokenizer = demo_loaded.tokenizer
    text = "春眠不觉晓，处处闻啼鸟"
    ids = tokenizer.encode(text, add_special_tokens=False)
    stream = TextStream(tokenizer, ())
    pieces = [stream.push(i)[0] for i in ids]
    assert "".join(pieces) == text
    # Each character comes out the moment its last byte-token arrives.
    assert [p for p in pieces if p] == list(text)


def test_incomplete_utf8_is_held_until_complete(demo_loaded: LoadedModel) -> None:
    tokenizer = demo_loaded.tokenizer
    # A rare character is several byte-level tokens: nothing until it is whole.
    char = "\U0001f600"
    ids = tokenizer.encode(char, add_special_tokens=False)
    stream = TextStream(tokenizer, ())
    pieces = [stream.push(i)[0] for i in ids]
    assert "".join(pieces) == char
    assert all(p in ("", char) for p in pieces)


def test_decode_attention_matches_sdpa() -> None:
    """The grouped one-query path equals SDPA, padding mask and GQA included."""
    import torch
    from transformers.integrations.sdpa_attention import sdpa_attention_forward

    from inference.attention import decode_attention

    torch.manual_seed(0)
    module = torch.nn.Module()
    module.num_key_value_groups = 4  # type: ignore[assignment]
    module.is_causal = True  # type: ignore[assignment]
    query = torch.randn(3, 8, 1, 16)
    key, value = torch.randn(3, 2, 10, 16), torch.randn(3, 2, 10, 16)
    mask = torch.ones(3, 1, 1, 10, dtype=torch.bool)
    mask[1, :, :, :4] = False  # a left-padded row
    for m in (None, mask):
        mine, _ = decode_attention(module, query, key, value, m, scaling=0.25)
        theirs, _ = sdpa_attention_forward(module, query, key, value, m, scaling=0.25)
        assert mine.shape == theirs.shape == (3, 1, 8, 16)
        assert torch.allclose(mine, theirs, atol=1e-5)


def test_bf16_chosen_by_cpu_flags(tmp_path: Path) -> None:
    from inference.loader import cpu_has_bf16

    info = tmp_path / "cpuinfo"
    info.write_text("processor : 0\nflags : fpu avx2 avx512f avx512_bf16\n")
    assert cpu_has_bf16(str(info))
    info.write_text("processor : 0\nflags : fpu avx2 avx512f\n")
    assert not cpu_has_bf16(str(info))
    assert not cpu_has_bf16(str(tmp_path / "missing"))
