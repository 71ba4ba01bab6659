"""Benchmark of the inference service against transformers' own server.

One run measures, for the demo model (~5M parameters) and a larger random model
(hidden 512, 8 layers, ~29M), with N = 1, 8, 16 concurrent streaming HTTP clients:

  (a) `freechat inference` (this package, continuous batching),
  (b) `transformers serve --continuous-batching` with the same model and the same
      KV cache bound (blocks x block size = our `kv_cache_tokens`),
  (c) one request at a time (our server with `--max-batch-size 1`),

all three servers up at once (idle ones use no CPU) and rounds interleaved
(every contender, then the next N, then the next repetition), so that drifting
load from other processes on a shared machine hits every contender alike;

plus plain `model.generate` in-process for one request, the baseline for the
lone-request target. Each client asks for `max_tokens` greedy tokens with its own
prompt; tokens are the usage figure of the last chunk where the server sends
one (ours, asked with `stream_options.include_usage`), else the number of
content chunks (transformers serve ignores `stream_options`; it sends one chunk
per token). TTFT is the time from sending the request to the first non-empty
content chunk.

    python bench/inference.py            # full run, medians of 3 rounds
    python bench/inference.py --quick    # one round, fewer tokens

Prints a markdown table and the target ratios. Servers run as subprocesses with
HF_HUB_OFFLINE=1; their logs go to the work folder.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from inference.demo_model import build_demo_model, build_random_model  # noqa: E402

QWEN3_06B_SHAPE = {
    "hidden_size": 1024,
    "intermediate_size": 3072,
    "num_hidden_layers": 28,
    "num_attention_heads": 16,
    "num_key_value_heads": 8,
    "head_dim": 128,
}
LARGE_SHAPE = {
    "hidden_size": 512,
    "intermediate_size": 1536,
    "num_hidden_layers": 8,
    "num_attention_heads": 8,
    "num_key_value_heads": 4,
    "head_dim": 64,
}
TOPICS = [
    "天气", "python", "历史", "音乐", "数学", "旅行", "烹饪", "电影",
    "足球", "诗歌", "化学", "经济", "编程", "绘画", "天文", "哲学",
]  # fmt: skip


_ROUNDS = itertools.count()


def prompt(i: int, salt: int = 0) -> str:
    """A different prompt per client and per round, 40-75 tokens with the template.

    The round number comes first, so no two requests of a run share more than the
    chat template's first few tokens: transformers' continuous batching reuses the
    KV blocks of repeated prefixes, which would turn later rounds into cache hits.
    """
    body = f"请用几句话介绍{TOPICS[i % 16]}。Please explain topic number {i} briefly. "
    return f"[{salt}] " + body * (1 + i % 2)


@dataclass
class Round:
    """Figures of one round of N concurrent clients."""

    tokens_per_s: float
    ttft_p50: float
    ttft_p95: float
    tokens_per_client: float


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


async def _read_chunked(reader: asyncio.StreamReader) -> AsyncIterator[bytes]:
    """The body pieces of a chunked HTTP/1.1 response."""
    while True:
        size = int((await reader.readline()).split(b";")[0].strip() or b"0", 16)
        if size == 0:
            return
        piece = await reader.readexactly(size)
        await reader.readexactly(2)
        yield piece


async def one_client(
    url: str, model: str, text: str | list[dict[str, str]], max_tokens: int
) -> tuple[float, int, str]:
    """Stream one completion over a bare HTTP/1.1 connection; (TTFT, tokens, text).

    A lean client on purpose: with httpx, setting up 16 connections in one
    Python process takes tens of milliseconds of the client's own CPU time on a
    2-core machine, which would be counted as every server's TTFT.
    """
    host, port = url.removeprefix("http://").split(":")
    body = json.dumps(
        {
            "model": model,
            "messages": (
                [{"role": "user", "content": text}] if isinstance(text, str) else text
            ),
            "stream": True,
            "max_tokens": max_tokens,
            "temperature": 0,
            "stream_options": {"include_usage": True},
        }
    ).encode()
    sent = time.perf_counter()
    reader, writer = await asyncio.open_connection(host, int(port))
    writer.write(
        b"POST /v1/chat/completions HTTP/1.1\r\nHost: bench\r\n"
        b"Content-Type: application/json\r\nConnection: close\r\n"
        + f"Content-Length: {len(body)}\r\n\r\n".encode()
        + body
    )
    status = await reader.readline()
    if b" 200 " not in status:
        raise RuntimeError(f"{url}: {status.decode().strip()}")
    chunked = False
    while (line := await reader.readline()) not in (b"\r\n", b""):
        chunked |= line.lower().startswith(b"transfer-encoding: chunked")
    ttft = float("nan")
    answer: list[str] = []
    chunks = 0
    usage: int | None = None
    buffer = b""
    pieces = _read_chunked(reader) if chunked else _read_all(reader)
    async for piece in pieces:
        buffer += piece
        *events, buffer = buffer.split(b"\n\n")
        for event in events:
            if not event.startswith(b"data: ") or event == b"data: [DONE]":
                continue
            data = json.loads(event[6:])
            choices = data.get("choices") or []
            if choices and (
                text_piece := (choices[0].get("delta") or {}).get("content")
            ):
                answer.append(text_piece)
                chunks += 1
                if chunks == 1:
                    ttft = time.perf_counter() - sent
            if data.get("usage"):
                usage = int(data["usage"]["completion_tokens"])
    writer.close()
    with contextlib.suppress(OSError):
        await writer.wait_closed()
    return ttft, chunks if usage is None else usage, "".join(answer)


async def _read_all(reader: asyncio.StreamReader) -> AsyncIterator[bytes]:
    while piece := await reader.read(65536):
        yield piece


async def run_round(url: str, model: str, n: int, max_tokens: int) -> Round:
    salt = next(_ROUNDS)
    started = time.perf_counter()
    results = await asyncio.gather(
        *(one_client(url, model, prompt(i, salt), max_tokens) for i in range(n))
    )
    elapsed = time.perf_counter() - started
    ttfts = [t for t, _, _ in results]
    return Round(
        tokens_per_s=sum(k for _, k, _ in results) / elapsed,
        ttft_p50=statistics.median(ttfts),
        ttft_p95=percentile(ttfts, 0.95),
        tokens_per_client=sum(k for _, k, _ in results) / n,
    )


def wait_ready(url: str, proc: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited; see {log}")
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(f"{url}/health", timeout=2).status_code == 200:
                return
        time.sleep(0.5)
    raise RuntimeError(f"server did not come up; see {log}")


@contextlib.contextmanager
def server(cmd: list[str], log: Path, port: int, threads: int) -> Iterator[str]:
    env = {
        **os.environ,
        "HF_HUB_OFFLINE": "1",
        "TRANSFORMERS_VERBOSITY": "error",
        "OMP_NUM_THREADS": str(threads),
    }
    with log.open("wb") as out:
        proc = subprocess.Popen(
            cmd, stdout=out, stderr=subprocess.STDOUT, env=env, cwd=ROOT
        )
        url = f"http://127.0.0.1:{port}"
        try:
            wait_ready(url, proc, log)
            yield url
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def ours_cmd(
    path: Path,
    port: int,
    batch: int,
    kv_tokens: int,
    threads: int,
    dtype: str = "auto",
    prefix_cache: int = 8192,
) -> list[str]:
    return [
        sys.executable, "-m", "inference", "serve", "--model", str(path),
        "--port", str(port), "--max-batch-size", str(batch),
        "--num-threads", str(threads), "--dtype", dtype,
        "--prefix-cache-tokens", str(prefix_cache),
        "--kv-cache-tokens", str(kv_tokens), "--no-fallback", "--log-level", "warning",
    ]  # fmt: skip


def hf_cmd(path: Path, port: int, kv_tokens: int) -> list[str]:
    exe = shutil.which("transformers") or str(
        Path(sys.executable).parent / "transformers"
    )
    return [
        exe, "serve", str(path), "--device", "cpu", "--continuous-batching",
        "--cb-block-size", "32", "--cb-num-blocks", str(kv_tokens // 32),
        "--cb-max-batch-tokens", "512", "--port", str(port), "--host", "127.0.0.1",
    ]  # fmt: skip


class PlainGenerate:
    """`model.generate` for one greedy request, in this process (the baseline)."""

    def __init__(self, path: Path, threads: int) -> None:
        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer

        torch.set_num_threads(threads)
        tokenizer = AutoTokenizer.from_pretrained(str(path))
        self.model = AutoModelForCausalLM.from_pretrained(
            str(path), dtype=torch.float32
        ).eval()
        self.ids = tokenizer.apply_chat_template(
            [{"role": "user", "content": prompt(0)}],
            add_generation_prompt=True,
            tokenize=True,
            return_tensors="pt",
        )["input_ids"]
        self.run(8)  # warm-up

    def run(self, max_tokens: int) -> float:
        """Tokens/s of one generate call."""
        import torch

        started = time.perf_counter()
        with torch.inference_mode():
            out = self.model.generate(
                self.ids,
                attention_mask=torch.ones_like(self.ids),
                max_new_tokens=max_tokens,
                min_new_tokens=max_tokens,
                do_sample=False,
            )
        return (out.shape[1] - self.ids.shape[1]) / (time.perf_counter() - started)


def median_round(rounds: list[Round]) -> Round:
    return Round(
        statistics.median(r.tokens_per_s for r in rounds),
        statistics.median(r.ttft_p50 for r in rounds),
        statistics.median(r.ttft_p95 for r in rounds),
        statistics.median(r.tokens_per_client for r in rounds),
    )


def bench_model(
    label: str, path: Path, args: argparse.Namespace, tokens: int, reps: int
) -> tuple[list[str], list[str]]:
    """All contenders on one model, rounds interleaved so load drifts hit all alike."""
    sizes = [1, 8, 16]
    baseline = PlainGenerate(path, args.threads)
    work = Path(args.work)
    contenders: dict[str, tuple[list[str], str]] = {}
    ports = [free_port() for _ in range(3)]
    contenders["(a) freechat"] = (
        ours_cmd(path, ports[0], 16, args.kv_tokens, args.threads),
        path.name,
    )
    if not args.skip_hf:
        contenders["(b) transformers serve CB"] = (
            hf_cmd(path, ports[1], args.kv_tokens),
            str(path),
        )
    contenders["(c) one at a time"] = (
        ours_cmd(path, ports[2], 1, args.kv_tokens, args.threads),
        path.name,
    )
    generate: list[float] = []
    rounds: dict[str, dict[int, list[Round]]] = {
        name: {n: [] for n in sizes} for name in contenders
    }
    with contextlib.ExitStack() as stack:
        urls = {}
        for i, (name, (cmd, model)) in enumerate(contenders.items()):
            log = work / f"server-{i}.log"
            urls[name] = stack.enter_context(server(cmd, log, ports[i], args.threads))
            asyncio.run(run_round(urls[name], model, 2, 8))  # warm-up
        for _ in range(reps):
            generate.append(baseline.run(tokens))
            for n in sizes:
                for name, (_, model) in contenders.items():
                    result = asyncio.run(run_round(urls[name], model, n, tokens))
                    rounds[name][n].append(result)
    results = {
        name: {n: median_round(r) for n, r in by_n.items()}
        for name, by_n in rounds.items()
    }
    plain = statistics.median(generate)
    rows = [f"| {label} | plain model.generate | 1 | {plain:.0f} | | | {tokens} |"]
    for name, figures in results.items():
        for n, r in figures.items():
            rows.append(
                f"| {label} | {name} | {n} | {r.tokens_per_s:.0f} "
                f"| {r.ttft_p50 * 1000:.0f} | {r.ttft_p95 * 1000:.0f} "
                f"| {r.tokens_per_client:.0f} |"
            )
    ours = results["(a) freechat"]
    summary = [
        f"- {label}: lone request {ours[1].tokens_per_s:.0f} tok/s = "
        f"{ours[1].tokens_per_s / plain:.0%} of model.generate (target >= 90%)"
    ]
    if "(b) transformers serve CB" in results:
        theirs = results["(b) transformers serve CB"][16]
        summary.append(
            f"- {label}: N=16 (a)/(b) = {ours[16].tokens_per_s / theirs.tokens_per_s:.2f}x"
            f" (target >= 1.5x), (a) TTFT p50 {ours[16].ttft_p50 * 1000:.0f} ms"
            " (target < 100 ms)"
        )
    return rows, summary


QUESTION = (
    "请详细解释一下这个问题的背景和细节。Please explain the background in detail. "
)


async def conversation_ttft(
    url: str, model: str, turns: int, answer_tokens: int = 32
) -> tuple[float, float, int]:
    """TTFT of turn 1 and of turn `turns` of one chat, run in order as a chat runs.

    Every turn sends the whole history with the model's own earlier answers (as
    the bot does) and a question of ~100 tokens; by turn 10 the prompt holds about
    2k tokens. Returns (turn 1 TTFT, last turn TTFT, last prompt's characters).
    """
    salt = next(_ROUNDS) + 10_000
    messages = [{"role": "system", "content": f"[{salt}] 你是一个有用的助手。" * 4}]
    first = last = float("nan")
    for turn in range(1, turns + 1):
        messages.append({"role": "user", "content": f"第{turn}个问题: " + QUESTION * 4})
        ttft, _, text = await one_client(url, model, messages, answer_tokens)
        messages.append({"role": "assistant", "content": text})
        first = ttft if turn == 1 else first
        last = ttft
    return first, last, sum(len(m["content"]) for m in messages)


def served_model(url: str) -> str:
    """The first model an OpenAI-compatible server lists."""
    data = httpx.get(f"{url}/v1/models", timeout=10).json()
    return str(data["data"][0]["id"])


def bench_anchored(
    path: Path, args: argparse.Namespace, tokens: int, reps: int
) -> list[str]:
    """Ours against already running servers (`--anchor`), rounds interleaved."""
    sizes = [1, 8, 16]
    work = Path(args.work)
    port = free_port()
    cmd = ours_cmd(path, port, 16, args.kv_tokens, args.threads, args.dtype)
    rounds: dict[str, dict[int, list[Round]]] = {}
    chats: dict[str, list[tuple[float, float, int]]] = {}
    with server(cmd, work / "server-ours.log", port, args.threads) as ours:
        urls = {"freechat": (ours, path.name)}
        for spec in args.anchor:
            name, url = spec.split("=", 1)
            urls[name] = (url.rstrip("/"), served_model(url.rstrip("/")))
        for name, (url, model) in urls.items():
            asyncio.run(run_round(url, model, 2, 8))  # warm-up
            rounds[name] = {n: [] for n in sizes}
            chats[name] = []
        for _ in range(reps):
            for n in sizes:
                for name, (url, model) in urls.items():
                    result = asyncio.run(run_round(url, model, n, tokens))
                    rounds[name][n].append(result)
            for name, (url, model) in urls.items():
                chats[name].append(asyncio.run(conversation_ttft(url, model, 10)))
    rows = []
    for name, by_n in rounds.items():
        figures = {n: median_round(r) for n, r in by_n.items()}
        turn1 = statistics.median(c[0] for c in chats[name])
        size = chats[name][0][2]
        turn10 = statistics.median(c[1] for c in chats[name])
        rows.append(
            f"| {name} | {figures[1].tokens_per_s:.1f} ({figures[1].ttft_p50 * 1000:.0f} ms)"
            f" | {figures[8].tokens_per_s:.1f} ({figures[8].ttft_p50 * 1000:.0f} ms)"
            f" | {figures[16].tokens_per_s:.1f} ({figures[16].ttft_p50 * 1000:.0f} ms)"
            f" | {turn1 * 1000:.0f} / {turn10 * 1000:.0f} ms ({turn10 / turn1:.2f}x,"
            f" {size} chars) |"
        )
        rounds[name] = {n: [figures[n]] for n in sizes}
    ours_fig = {n: rounds["freechat"][n][0] for n in sizes}
    for name in rounds:
        if name == "freechat":
            continue
        theirs = {n: rounds[name][n][0] for n in sizes}
        rows.append(
            f"| ours / {name} | {ours_fig[1].tokens_per_s / theirs[1].tokens_per_s:.2f}x"
            f" (TTFT {ours_fig[1].ttft_p50 / theirs[1].ttft_p50:.2f}x)"
            f" | {ours_fig[8].tokens_per_s / theirs[8].tokens_per_s:.2f}x"
            f" | {ours_fig[16].tokens_per_s / theirs[16].tokens_per_s:.2f}x | |"
        )
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="one round, 32 tokens")
    parser.add_argument("--work", default="/tmp/freechat-bench", help="models and logs")
    parser.add_argument("--max-tokens", type=int, default=None)
    parser.add_argument("--kv-tokens", type=int, default=4096)
    parser.add_argument("--skip-large", action="store_true")
    parser.add_argument("--skip-hf", action="store_true")
    parser.add_argument(
        "--anchor",
        action="append",
        default=[],
        metavar="NAME=URL",
        help="an OpenAI-compatible server already running (e.g. vLLM) to measure"
        " side by side with ours; with it, only the --model-shape model is run",
    )
    parser.add_argument(
        "--model-shape",
        choices=["qwen3-0.6b"],
        default=None,
        help="bench the Qwen3-0.6B-shaped random model (28 layers, hidden 1024)",
    )
    parser.add_argument("--dtype", default="auto", help="our server's --dtype")
    parser.add_argument(
        "--threads",
        type=int,
        default=max(1, (os.cpu_count() or 2) - 1),
        help="torch threads for every contender (default: CPUs - 1, our default)",
    )
    args = parser.parse_args()
    load_before = " ".join(f"{x:.1f}" for x in os.getloadavg())
    tokens = args.max_tokens or (32 if args.quick else 64)
    reps = 1 if args.quick else 3
    work = Path(args.work)
    work.mkdir(parents=True, exist_ok=True)
    demo = build_demo_model(work / "demo")
    if args.anchor or args.model_shape:
        path = build_random_model(
            work / "qwen3-0.6b-shape", shape=QWEN3_06B_SHAPE, tokenizer_from=demo
        )
        anchored = bench_anchored(path, args, tokens, reps)
        print(
            f"\nQwen3-0.6B-shaped random model, {tokens} greedy tokens per client,"
            f" {args.threads} thread(s) each, our --dtype {args.dtype}, medians of"
            f" {reps} round(s), load average before: {load_before}\n"
        )
        print(
            "| server | N=1 tok/s (TTFT p50) | N=8 agg tok/s (TTFT p50)"
            " | N=16 agg tok/s (TTFT p50) | chat TTFT turn 1 / turn 10 (~2k tokens) |"
        )
        print("|---|---|---|---|---|")
        print("\n".join(anchored))
        return 0
    models = {"demo (5M)": demo}
    if not args.skip_large:
        models["large (29M)"] = build_random_model(
            work / "large", shape=LARGE_SHAPE, tokenizer_from=demo
        )
    rows: list[str] = []
    summary: list[str] = []
    for label, path in models.items():
        model_rows, model_summary = bench_model(label, path, args, tokens, reps)
        rows += model_rows
        summary += model_summary
    print(
        f"\n{tokens} new tokens per client, greedy, KV bound {args.kv_tokens} tokens,"
        f" {os.cpu_count()} CPUs, {args.threads} torch thread(s) each,"
        f" medians of {reps} round(s), load average before: {load_before}\n"
    )
    print(
        "| model | server | N | aggregate tok/s | TTFT p50 ms | TTFT p95 ms"
        " | tokens/client |"
    )
    print("|---|---|---|---|---|---|---|")
    print("\n".join(rows))
    print()
    print("\n".join(summary))
    return 0


if __name__ == "__main__":
    sys.exit(main())
