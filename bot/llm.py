"""OpenAI-compatible streaming LLM client.

Endpoints come from the registry; the least-busy healthy one is tried first, and a
failing endpoint is skipped. Failover happens only before the first token: after
that, an error ends the answer with :class:`LLMError`. Closing the stream (the user
pressed stop, the socket went away, the task was cancelled) closes the upstream HTTP
response at once.

A hung model must not silence the bot:

* a stall is noticed early: no bytes within ``first_token_timeout`` or between two
  chunks within ``idle_timeout`` (7 s each by default) fails the request;
* an endpoint's circuit opens after ``circuit_failures`` failures in a row. While it
  is open nothing is sent there except one probe (a real request) every
  ``circuit_reset`` seconds; the first answer closes it, so the bot is back within
  about ``circuit_reset`` seconds of the model. With every circuit open a message is
  refused at once (:class:`LLMNotResponding`), even with one endpoint;
* at most ``max_in_flight_per_endpoint`` requests are in flight per endpoint; past
  that a message is refused at once rather than queued for a slot.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import aiohttp

from bot.context import ReplyChunk, Usage, closing

from .exceptions import (
    LLMBadResponse,
    LLMError,
    LLMNotResponding,
    LLMTimeout,
    LLMUnavailable,
)
from .registry import Endpoint, Registry
from .settings import LLMSettings
from .throttle import ThrottledLog

log = logging.getLogger(__name__)

#: the longest SSE line accepted (a chunk is a few hundred bytes; a peer that never
#: sends a newline must not fill the memory)
MAX_SSE_LINE = 1 << 20


@dataclass
class _Health:
    failures: int = 0
    #: 0: closed; else the circuit is open and the next probe is due at this time
    open_until: float = 0.0
    in_flight: int = 0


@dataclass
class StreamInfo:
    """What one streamed answer reported besides text."""

    usage: Usage = field(default_factory=Usage)
    finish_reason: str | None = None
    model: str = ""
    endpoint: str = ""
    ttft: float | None = None


class ThinkSplitter:
    """Moves ``<think>...</think>`` spans of streamed content into reasoning text."""

    OPEN, CLOSE = "<think>", "</think>"

    def __init__(self) -> None:
        self._inside = False
        self._buf = ""

    def feed(self, text: str) -> ReplyChunk:
        self._buf += text
        out: list[str] = []
        reason: list[str] = []
        while self._buf:
            tag = self.CLOSE if self._inside else self.OPEN
            idx = self._buf.find(tag)
            if idx >= 0:
                (reason if self._inside else out).append(self._buf[:idx])
                self._buf = self._buf[idx + len(tag) :]
                self._inside = not self._inside
                continue
            keep = _partial_suffix(self._buf, tag)
            emit, self._buf = (
                self._buf[: len(self._buf) - keep],
                self._buf[len(self._buf) - keep :],
            )
            (reason if self._inside else out).append(emit)
            break
        return ReplyChunk("".join(out), "".join(reason))

    def flush(self) -> ReplyChunk:
        rest, self._buf = self._buf, ""
        return ReplyChunk("", rest) if self._inside else ReplyChunk(rest, "")


def _partial_suffix(text: str, tag: str) -> int:
    """Length of the longest suffix of ``text`` that is a proper prefix of ``tag``."""
    for n in range(min(len(tag) - 1, len(text)), 0, -1):
        if text.endswith(tag[:n]):
            return n
    return 0


class LLMClient:
    """Streams chat completions from the registry's endpoints."""

    def __init__(self, registry: Registry, settings: LLMSettings) -> None:
        self.registry = registry
        self.settings = settings
        self._health: dict[str, _Health] = {}
        # aiohttp rather than httpx: on this hot path (one request per message) it
        # costs about half the CPU per request (measured with bench/onebot.py)
        self._session: aiohttp.ClientSession | None = None
        self._default_model: str | None = settings.model or None
        self._ping_task: asyncio.Task[bool] | None = None
        self._failure_log = ThrottledLog(log, every=10.0)
        self._last_ping: bool | None = None

    @property
    def session(self) -> aiohttp.ClientSession:
        """The shared session, made on first use (it must be made inside a loop)."""
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(
                timeout=aiohttp.ClientTimeout(
                    total=None,
                    sock_connect=self.settings.connect_timeout,
                    sock_read=self.settings.idle_timeout,
                ),
                # requests are bounded per endpoint (max_in_flight_per_endpoint);
                # a pool limit below that would queue them for a socket
                connector=aiohttp.TCPConnector(
                    limit=0,
                    limit_per_host=self.settings.max_in_flight_per_endpoint,
                    keepalive_timeout=30,
                ),
            )
        return self._session

    async def close(self) -> None:
        if self._ping_task is not None:
            self._ping_task.cancel()
            await asyncio.gather(self._ping_task, return_exceptions=True)
        if self._session is not None:
            await self._session.close()

    def _health_of(self, ep: Endpoint) -> _Health:
        return self._health.setdefault(ep.key, _Health())

    def _candidates(self) -> list[Endpoint]:
        """Open circuits whose probe is due (so an endpoint that is back gets its
        share again; a failed probe fails over to the next), then closed ones,
        least busy first."""
        now = time.monotonic()
        eps = self.registry.endpoints()
        closed = [e for e in eps if not self._health_of(e).open_until]
        due = [e for e in eps if 0 < self._health_of(e).open_until <= now]
        return due + sorted(closed, key=lambda e: self._health_of(e).in_flight)

    def _admit(self, ep: Endpoint) -> bool:
        """Take a slot on ``ep`` (or its next probe); False: send nothing there."""
        h = self._health_of(ep)
        if h.in_flight >= self.settings.max_in_flight_per_endpoint:
            return False
        if not h.open_until:
            return True
        now = time.monotonic()
        if h.open_until > now:
            return False
        h.open_until = now + self.settings.circuit_reset  # the next probe
        return True

    def _failed(self, ep: Endpoint, why: str) -> None:
        h = self._health_of(ep)
        h.failures += 1
        # a hung model fails every request in flight: one line per 10 s, not each
        self._failure_log.log(
            logging.WARNING, "LLM endpoint %s failed (%s)", ep.base_url, why
        )
        if h.failures >= self.settings.circuit_failures and not h.open_until:
            h.open_until = time.monotonic() + self.settings.circuit_reset
            log.warning("LLM endpoint %s: circuit open", ep.base_url)

    def _succeeded(self, ep: Endpoint) -> None:
        h = self._health_of(ep)
        if h.open_until:
            log.warning("LLM endpoint %s: circuit closed", ep.base_url)
        h.failures = 0
        h.open_until = 0.0

    def circuit_open(self) -> bool:
        """True when every endpoint's circuit is open (or there is none)."""
        eps = self.registry.endpoints()
        return not any(not self._health_of(e).open_until for e in eps)

    async def default_model(self) -> str:
        """The configured model, or the first one the first endpoint lists."""
        if self._default_model:
            return self._default_model
        for ep in self._candidates():
            try:
                async with self.session.get(
                    f"{ep.base_url}/models",
                    headers=_auth(ep),
                    timeout=aiohttp.ClientTimeout(total=5.0),
                ) as resp:
                    resp.raise_for_status()
                    models = (await resp.json()).get("data") or []
            except (
                aiohttp.ClientError,
                TimeoutError,
                ValueError,
                AttributeError,
            ) as exc:
                log.warning("listing models at %s failed: %s", ep.base_url, exc)
                continue
            if models:
                self._default_model = str(models[0]["id"])
                return self._default_model
        raise LLMUnavailable("no endpoint lists a model")

    async def ping(self, wait: float = 0.5) -> bool:
        """True when at least one endpoint answers ``GET /models``.

        Answers within ``wait`` seconds (``/ready`` must not hang on a hung model):
        a check still out by then is left running, and the answer is what is known,
        the last check's result and the circuits.
        """
        task = self._ping_task
        if task is None or task.done():
            task = self._ping_task = asyncio.create_task(self._ping(), name="llm-ping")
        done, _ = await asyncio.wait({task}, timeout=wait)
        if done:
            return task.result()
        return self._last_ping is not False and not self.circuit_open()

    async def _ping(self) -> bool:
        self._last_ping = await self._ping_endpoints()
        return self._last_ping

    async def _ping_endpoints(self) -> bool:
        for ep in self.registry.endpoints():
            try:
                async with self.session.get(
                    f"{ep.base_url}/models",
                    headers=_auth(ep),
                    timeout=aiohttp.ClientTimeout(total=3.0),
                ) as resp:
                    if resp.status < 500:
                        return True
            except (aiohttp.ClientError, TimeoutError):
                continue
        return False

    async def stream(
        self,
        messages: list[dict[str, Any]],
        *,
        model: str | None = None,
        max_tokens: int | None = None,
        temperature: float | None = None,
        user: str | None = None,
        info: StreamInfo | None = None,
    ) -> AsyncIterator[ReplyChunk]:
        """Stream the answer to ``messages`` as text/reasoning chunks."""
        info = info if info is not None else StreamInfo()
        body: dict[str, Any] = {
            "model": model or await self.default_model(),
            "messages": messages,
            "stream": True,
            "stream_options": {"include_usage": True},
            "max_tokens": max_tokens or self.settings.max_tokens,
            "temperature": (
                self.settings.temperature if temperature is None else temperature
            ),
        }
        if user:
            body["user"] = user
        info.model = body["model"]
        if not self.registry.endpoints():
            raise LLMUnavailable("no LLM endpoint is configured")
        last_error: LLMError = LLMNotResponding(
            "every endpoint's circuit is open or its requests at the limit"
        )
        for ep in self._candidates():
            if not self._admit(ep):
                continue
            health = self._health_of(ep)
            health.in_flight += 1
            started = False
            try:
                async with closing(self._stream_one(ep, body, info)) as chunks:
                    async for chunk in chunks:
                        if not started:
                            started = True
                            self._succeeded(ep)
                        yield chunk
                if not started:
                    self._succeeded(ep)
                return
            except LLMError as exc:
                if started:
                    raise
                self._failed(ep, str(exc))
                last_error = exc
            finally:
                health.in_flight -= 1
        raise last_error

    async def _stream_one(
        self, ep: Endpoint, body: dict[str, Any], info: StreamInfo
    ) -> AsyncIterator[ReplyChunk]:
        url = f"{ep.base_url}/chat/completions"
        start = time.monotonic()
        splitter = ThinkSplitter()
        info.endpoint = ep.base_url
        try:
            async with asyncio.timeout(self.settings.first_token_timeout):
                resp = await self.session.post(url, json=body, headers=_auth(ep))
            try:
                if resp.status >= 400:
                    detail = (await resp.read())[:300].decode("utf-8", "replace")
                    if resp.status >= 500 or resp.status == 429:
                        raise LLMUnavailable(f"HTTP {resp.status}: {detail}")
                    raise LLMBadResponse(f"HTTP {resp.status}: {detail}")
                first = True
                done = False
                pending = b""
                while not done:
                    # each wait is bounded on its own: time the consumer spends between
                    # chunks (pacing a slow platform) must not count against the model.
                    # (asyncio.wait_for would swallow a cancel that races a buffered
                    # read on Python 3.11; asyncio.timeout does not.) Reading what has
                    # arrived, rather than line by line, takes one wait per network
                    # read instead of one per SSE line.
                    limit = (
                        self.settings.first_token_timeout
                        if first
                        else self.settings.idle_timeout
                    )
                    async with asyncio.timeout(limit):
                        data = await resp.content.readany()
                    if not data:
                        break
                    *lines, pending = (pending + data).split(b"\n")
                    if len(pending) > MAX_SSE_LINE:
                        raise LLMBadResponse("malformed stream: a line too long")
                    for raw in lines:
                        line = raw.decode("utf-8", "replace").strip()
                        if not line.startswith("data:"):
                            continue
                        payload = line[5:].strip()
                        if payload == "[DONE]":
                            done = True
                            break
                        chunk = _parse_chunk(payload, info)
                        if chunk is None:
                            continue
                        out = splitter.feed(chunk.text)
                        out.reasoning = chunk.reasoning + out.reasoning
                        if out.text or out.reasoning:
                            if first:
                                info.ttft = time.monotonic() - start
                                first = False
                            yield out
                if done:
                    # read the (empty) rest, so the connection is reused
                    async with asyncio.timeout(1.0):
                        await resp.read()
                tail = splitter.flush()
                if tail.text or tail.reasoning:
                    yield tail
            finally:
                # a finished body goes back to the pool; anything else is closed,
                # which ends the upstream request at once
                if resp.content.at_eof():
                    resp.release()
                else:
                    resp.close()
        except TimeoutError as exc:
            raise LLMTimeout("no answer from the model in time") from exc
        except aiohttp.ClientError as exc:
            raise LLMUnavailable(f"{type(exc).__name__}: {exc}") from exc
        except ValueError as exc:  # aiohttp: a line longer than its buffer
            raise LLMBadResponse(f"malformed stream: {exc}") from exc


def _auth(ep: Endpoint) -> dict[str, str]:
    return {"Authorization": f"Bearer {ep.api_key}"} if ep.api_key else {}


def _parse_chunk(data: str, info: StreamInfo) -> ReplyChunk | None:
    try:
        obj = json.loads(data)
    except ValueError as exc:
        raise LLMBadResponse("malformed stream chunk") from exc
    if not isinstance(obj, dict):
        raise LLMBadResponse("malformed stream chunk")
    if "error" in obj:
        raise LLMBadResponse(str(obj["error"])[:300])
    usage = obj.get("usage")
    if isinstance(usage, dict):
        info.usage.prompt_tokens = int(usage.get("prompt_tokens") or 0)
        info.usage.completion_tokens = int(usage.get("completion_tokens") or 0)
    choices = obj.get("choices") or []
    if not choices:
        return None
    choice = choices[0]
    if choice.get("finish_reason"):
        info.finish_reason = str(choice["finish_reason"])
    delta = choice.get("delta") or {}
    text = delta.get("content") or ""
    reasoning = delta.get("reasoning_content") or delta.get("reasoning") or ""
    if not text and not reasoning:
        return None
    return ReplyChunk(str(text), str(reasoning))
