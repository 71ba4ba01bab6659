"""The continuous-batching engine: one model thread, many asyncio consumers.

All forward passes run on one dedicated thread. Its loop, between two decode
steps, takes new requests from a queue, drops cancelled ones, admits waiting
requests while the batch size and the KV budget allow (prefilling short prompts
in groups of similar length and sending each group's first tokens at once; a
long prompt, or one whose prefix is in the prefix cache, is prefilled alone, one
chunk per step, after its cached blocks), then runs one
decode step for every row and samples each row with its own settings. The
step's text deltas reach the event loop in one `loop.call_soon_threadsafe` call,
which puts them on each request's `asyncio.Queue`.

Admission keeps the cache bounded: rows x (longest prompt + max_tokens) of the
running rows plus the candidate must fit `kv_cache_tokens`; the padded cache is
never larger than that (see `kvbatch`).

    client task ──submit──▶ commands ──▶ [model thread] ──call_soon_threadsafe──▶ queues
"""

from __future__ import annotations

import asyncio
import collections
import itertools
import logging
import queue
import threading
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

import torch

from .config import InferenceConfig
from .exceptions import EngineStoppedError, PromptTooLongError, QueueFullError
from .kvbatch import KVBatch, RowFill
from .loader import LoadedModel
from .prefix_cache import PrefixCache
from .sampling import RowSampler, SamplingParams, TokenLogprob, sample
from .textstream import TextStream

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class StreamEvent:
    """One delta of a request's output; the last one has a `finish_reason`."""

    text: str
    completion_tokens: int
    finish_reason: str | None = None
    error: str | None = None
    logprobs: tuple[TokenLogprob, ...] = ()


@dataclass(eq=False)
class Request:
    """A submitted request, as seen from the event loop."""

    id: str
    prompt_ids: list[int]
    params: SamplingParams
    engine: Engine
    events: asyncio.Queue[StreamEvent] = field(default_factory=asyncio.Queue)
    submitted_at: float = field(default_factory=time.perf_counter)
    first_token_at: float | None = None
    finished: bool = False
    cancelled: bool = False

    @property
    def prompt_tokens(self) -> int:
        """Number of prompt tokens."""
        return len(self.prompt_ids)

    def cancel(self) -> None:
        """Stop generating; the model thread drops the row before its next step."""
        if not self.finished and not self.cancelled:
            self.cancelled = True
            self.engine.wake()

    async def stream(self) -> AsyncIterator[StreamEvent]:
        """Events until the final one; cancels the request if the consumer leaves.

        Events already queued are merged, so a slow consumer (a busy loop, a slow
        socket) catches up in one write instead of one write per token.
        """
        try:
            while True:
                event = await self.events.get()
                # A consumer that fell behind gets what piled up as one delta.
                while event.finish_reason is None and not self.events.empty():
                    later = self.events.get_nowait()
                    event = StreamEvent(
                        event.text + later.text,
                        later.completion_tokens,
                        later.finish_reason,
                        later.error,
                        event.logprobs + later.logprobs,
                    )
                yield event
                if event.finish_reason is not None:
                    return
        finally:
            self.cancel()


@dataclass
class _Row:
    """Thread-side state of one request."""

    request: Request
    sampler: RowSampler
    text: TextStream
    generated: int = 0
    done: bool = False
    fill: RowFill | None = None  # while its prompt is prefilled in chunks
    pending: list[TokenLogprob] = field(default_factory=list)
    output: list[int] = field(default_factory=list)  # for the prefix cache


def _length_groups(rows: list[_Row]) -> list[list[_Row]]:
    """Split joiners into prefill groups of similar prompt length.

    One padded prefill costs rows x longest prompt; grouping by length (a group
    grows while prompts stay within 25% + 8 tokens of its shortest) keeps the
    padding small at the price of a few more, smaller forward passes.
    """
    groups: list[list[_Row]] = []
    for row in sorted(rows, key=lambda r: len(r.request.prompt_ids)):
        size = len(row.request.prompt_ids)
        if groups and size <= len(groups[-1][0].request.prompt_ids) * 1.25 + 8:
            groups[-1].append(row)
        else:
            groups.append([row])
    return groups


class Engine:
    """Continuous batching over a loaded model on one dedicated thread."""

    def __init__(self, loaded: LoadedModel, config: InferenceConfig) -> None:
        self.loaded = loaded
        self.config = config
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._incoming: queue.SimpleQueue[Request] = queue.SimpleQueue()
        self._wake = threading.Event()
        self._running = False
        self._ids = itertools.count()
        self._waiting: collections.deque[_Row] = collections.deque()
        self._rows: list[_Row] = []
        self._filling: collections.deque[_Row] = collections.deque()
        self.prefix_cache = PrefixCache(
            config.prefix_block_tokens, config.prefix_cache_tokens
        )
        self.live: set[Request] = set()
        # Figures read by /metrics (written by the model thread, read anywhere).
        self.queued = 0
        self.running = 0
        self.tokens_total = 0
        self.cache_tokens = 0
        self.cache_tokens_peak = 0
        self.requests_total = 0
        self.prefill_tokens_total = 0  # prompt tokens run through the model
        self.cached_tokens_total = 0  # prompt tokens whose KV came from the cache
        self.recent: collections.deque[tuple[float, int]] = collections.deque(
            maxlen=512
        )
        self.ttft_observer: Any = None
        pad = loaded.tokenizer.pad_token_id
        self._pad_id = int(pad if pad is not None else 0)

    # ---- event-loop side -------------------------------------------------

    def wake(self) -> None:
        """Wake the model thread (a request arrived or was cancelled)."""
        self._wake.set()

    @property
    def is_running(self) -> bool:
        """Whether the model thread is serving."""
        return self._running

    def start(self) -> None:
        """Start the model thread; must be called from the serving event loop."""
        if self._running:
            return
        self._loop = asyncio.get_running_loop()
        self._running = True
        self._thread = threading.Thread(
            target=self._run, name="freechat-inference", daemon=True
        )
        self._thread.start()

    async def stop(self, grace: float = 10.0) -> None:
        """Finish every request as cancelled and join the model thread."""
        if not self._running:
            return
        self._running = False
        self._wake.set()
        if self._thread is not None:
            await asyncio.to_thread(self._thread.join, grace)
            self._thread = None
        for request in list(self.live):
            self._finish(request, StreamEvent("", 0, "cancelled", "engine stopped"))

    def tokens_per_second(self, window: float = 5.0) -> float:
        """Generated tokens per second over the last `window` seconds."""
        now = time.perf_counter()
        total = sum(n for t, n in list(self.recent) if now - t <= window)
        return total / window

    def submit(self, prompt_ids: list[int], params: SamplingParams) -> Request:
        """Queue a request; its events arrive on `request.events`."""
        if not self._running:
            raise EngineStoppedError("the inference engine is not running")
        limit = min(self.config.max_prompt_tokens, self.config.kv_cache_tokens - 1)
        if not prompt_ids or len(prompt_ids) > limit:
            raise PromptTooLongError(len(prompt_ids), limit)
        if self.queued >= self.config.max_queue:
            raise QueueFullError("too many waiting requests")
        room = self.config.kv_cache_tokens - len(prompt_ids)
        if params.max_tokens > room:
            params = params.with_max_tokens(room)
        request = Request(f"req-{next(self._ids)}", list(prompt_ids), params, self)
        self.live.add(request)
        self.queued += 1
        self._incoming.put(request)
        self._wake.set()
        return request

    def _deliver(self, batch: list[tuple[Request, StreamEvent]]) -> None:
        now = time.perf_counter()
        for request, event in batch:
            if request.finished:
                continue
            if request.first_token_at is None and event.completion_tokens > 0:
                request.first_token_at = now
                if self.ttft_observer is not None:
                    self.ttft_observer(now - request.submitted_at)
            if event.finish_reason is not None:
                self._finish(request, event)
            else:
                request.events.put_nowait(event)

    def _finish(self, request: Request, event: StreamEvent) -> None:
        if request.finished:
            return
        request.finished = True
        self.live.discard(request)
        request.events.put_nowait(event)

    # ---- model-thread side -----------------------------------------------

    def _send(self, batch: list[tuple[Request, StreamEvent]]) -> None:
        if not batch or self._loop is None:
            return
        try:
            self._loop.call_soon_threadsafe(self._deliver, batch)
        except RuntimeError:  # the loop closed under us: nobody is listening
            self._running = False

    def _run(self) -> None:
        torch.set_num_threads(self.config.torch_threads())
        batch = KVBatch(self.loaded.model, self.config.device)
        with torch.inference_mode():
            while self._running:
                try:
                    self._step(batch)
                except Exception as exc:  # a failed step must not kill the service
                    log.exception("inference step failed")
                    failed = self._rows + list(self._filling) + list(self._waiting)
                    self._rows, self._waiting = [], collections.deque()
                    self._filling = collections.deque()
                    batch.keep([])
                    self._send(
                        [
                            (r.request, StreamEvent("", r.generated, "error", str(exc)))
                            for r in failed
                        ]
                    )
                self._publish(batch)
        self._rows, self._waiting = [], collections.deque()
        self._filling = collections.deque()
        self.running = self.queued = 0

    def _step(self, batch: KVBatch) -> None:
        self._wake.clear()
        while True:
            try:
                request = self._incoming.get_nowait()
            except queue.Empty:
                break
            self.requests_total += 1
            sampler = RowSampler(request.params, request.prompt_ids)
            text = TextStream(self.loaded.tokenizer, request.params.stop)
            self._waiting.append(_Row(request, sampler, text))
        out: list[tuple[Request, StreamEvent]] = []
        for pending in (self._waiting, self._filling):
            for row in [r for r in pending if r.request.cancelled]:
                pending.remove(row)
                out.append((row.request, StreamEvent("", 0, "cancelled")))
        self._drop(batch, out, lambda row: row.request.cancelled, "cancelled")
        if not self._rows and not self._waiting and not self._filling:
            self._publish(batch)
            self._send(out)
            self._wake.wait(0.5)
            return
        joiners = self._admit()
        if joiners or self._filling:
            batch.horizon = max(
                batch.horizon,
                *(
                    len(r.request.prompt_ids) + r.request.params.max_tokens
                    for r in [*joiners, *self._filling]
                ),
            )
        grouped: list[_Row] = []
        for row in joiners:
            ids = row.request.prompt_ids
            cached, kv = self.prefix_cache.match(ids)
            if cached or len(ids) > self.config.prefill_chunk_tokens:
                # Alone, after the cached prefix, a chunk per step.
                self.cached_tokens_total += cached
                row.fill = batch.start_fill(ids, cached, kv)
                self._filling.append(row)
            else:
                grouped.append(row)
        for group in _length_groups(grouped):
            logits = batch.prefill([r.request.prompt_ids for r in group], self._pad_id)
            self.prefill_tokens_total += sum(len(r.request.prompt_ids) for r in group)
            first = len(self._rows)
            self._rows.extend(group)
            for i, row in enumerate(group, first):
                ids = row.request.prompt_ids
                self.prefix_cache.store(ids, batch.prompt_kv(i, len(ids)))
            self._first_tokens(batch, group, logits, first, out)
        self._fill_chunk(batch, out)
        if self._rows:
            self._set_horizon(batch)
            logits = batch.decode()
            tokens, logprobs = sample(logits, [r.sampler for r in self._rows])
            batch.set_last(tokens)
            self._emit(self._rows, tokens, logprobs, out)
            self._drop(batch, out, lambda row: row.done, None)
        self._publish(batch)
        self._send(out)

    def _fill_chunk(
        self, batch: KVBatch, out: list[tuple[Request, StreamEvent]]
    ) -> None:
        """Prefill at most one chunk of the prompts being filled alone."""
        budget = self.config.prefill_chunk_tokens
        while self._filling and budget > 0:
            row = self._filling[0]
            fill = row.fill
            assert fill is not None
            before = fill.done
            logits = batch.fill(fill, budget)
            budget -= fill.done - before
            self.prefill_tokens_total += fill.done - before
            if logits is None:
                continue
            self._filling.popleft()
            row.fill = None
            if fill.kv is not None:
                self.prefix_cache.store(fill.ids, fill.kv)
            first = len(self._rows)
            self._rows.append(row)
            self._first_tokens(batch, [row], logits, first, out)

    def _first_tokens(
        self,
        batch: KVBatch,
        group: list[_Row],
        logits: torch.Tensor,
        first: int,
        out: list[tuple[Request, StreamEvent]],
    ) -> None:
        tokens, logprobs = sample(logits, [r.sampler for r in group])
        batch.set_last(tokens, first)
        self._emit(group, tokens, logprobs, out)
        self._drop(batch, out, lambda row: row.done, None)
        # First tokens go out now, not after the next group's prefill.
        self._publish(batch)
        self._send(out[:])
        out.clear()

    def _set_horizon(self, batch: KVBatch) -> None:
        batch.horizon = max(
            (
                len(r.request.prompt_ids) + r.request.params.max_tokens
                for r in self._rows
            ),
            default=0,
        )

    def _publish(self, batch: KVBatch) -> None:
        # Figures first, events second: a consumer that sees an event sees these.
        self.running = len(self._rows)
        self.queued = len(self._waiting) + len(self._filling) + self._incoming.qsize()
        self.cache_tokens = batch.rows * batch.length
        self.cache_tokens_peak = max(self.cache_tokens_peak, self.cache_tokens)

    def _admit(self) -> list[_Row]:
        joiners: list[_Row] = []
        prefill = 0
        admitted = [*self._rows, *self._filling]
        longest = max(
            (len(r.request.prompt_ids) + r.request.params.max_tokens for r in admitted),
            default=0,
        )
        while self._waiting:
            row = self._waiting[0]
            need = len(row.request.prompt_ids) + row.request.params.max_tokens
            rows = len(admitted) + len(joiners) + 1
            if rows > self.config.max_batch_size:
                break
            if rows * max(longest, need) > self.config.kv_cache_tokens:
                break
            if joiners and prefill + len(row.request.prompt_ids) > (
                self.config.prefill_chunk_tokens
            ):
                break
            self._waiting.popleft()
            joiners.append(row)
            prefill += len(row.request.prompt_ids)
            longest = max(longest, need)
        return joiners

    def _emit(
        self,
        rows: list[_Row],
        tokens: list[int],
        logprobs: list[TokenLogprob | None],
        out: list[tuple[Request, StreamEvent]],
    ) -> None:
        now = time.perf_counter()
        eos = self.loaded.eos_token_ids
        for row, token, logprob in zip(rows, tokens, logprobs, strict=True):
            row.generated += 1
            if self.prefix_cache.enabled:
                row.output.append(token)
            if logprob is not None:
                row.pending.append(logprob)
            finish: str | None = None
            if token in eos and not row.request.params.ignore_eos:
                text = row.text.flush()
                finish = "stop"
            else:
                text, stopped = row.text.push(token)
                if stopped:
                    finish = "stop"
                elif row.generated >= row.request.params.max_tokens:
                    text += row.text.flush()
                    finish = "length"
            if finish is not None:
                row.done = True
            if text or finish is not None or row.generated == 1:
                # Log-probabilities travel with the text their tokens produced.
                chosen, row.pending = tuple(row.pending), []
                event = StreamEvent(text, row.generated, finish, logprobs=chosen)
                out.append((row.request, event))
        self.tokens_total += len(rows)
        self.recent.append((now, len(rows)))

    def _drop(
        self,
        batch: KVBatch,
        out: list[tuple[Request, StreamEvent]],
        gone: Callable[[_Row], bool],
        reason: str | None,
    ) -> None:
        keep = [i for i, row in enumerate(self._rows) if not gone(row)]
        if len(keep) == len(self._rows):
            return
        for i, row in enumerate(self._rows):
            if not gone(row):
                continue
            if reason is not None:
                out.append((row.request, StreamEvent("", row.generated, reason)))
            elif row.output:
                # The answer is the next turn's history: cache it with its prompt.
                # (The last token chosen was never fed back, so it has no KV.)
                ids = row.request.prompt_ids + row.output[:-1]
                self.prefix_cache.store(ids, batch.prompt_kv(i, len(ids)))
        self._rows = [self._rows[i] for i in keep]
        batch.keep(keep)
