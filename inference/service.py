"""The inference service: a loaded model, its engine and its metrics.

`InferenceService` is what the HTTP app talks to. It loads the model on a worker
thread (the event loop keeps running), falls back to the demo model when the
configured one cannot be loaded and `fallback_to_demo` is set, starts and stops
the engine, and turns chat messages into prompt token ids with the model's chat
template. The standalone server and the embedded mode share it.
"""

from __future__ import annotations

import asyncio
import json
import logging
from pathlib import Path
from typing import Any

from jinja2 import TemplateError
from prometheus_client import CollectorRegistry, Histogram
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector

from .config import InferenceConfig
from .engine import Engine
from .exceptions import EngineStoppedError, ModelLoadError, RequestRejectedError
from .loader import LoadedModel, load_model
from .protocol import ChatMessage, Tool

log = logging.getLogger(__name__)

_NOT_UNICODE = "text is not valid Unicode (a lone surrogate?)"
TTFT_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)


class _EngineCollector(Collector):
    """Reads the engine's figures at scrape time."""

    def __init__(self, service: InferenceService) -> None:
        self.service = service

    def collect(self) -> Any:
        engine = self.service.engine
        figures = {
            "queue_depth": (engine.queued if engine else 0, "Requests waiting."),
            "running_requests": (engine.running if engine else 0, "Rows decoding."),
            "kv_cache_tokens": (
                engine.cache_tokens if engine else 0,
                "KV cache slots in use (rows x padded length).",
            ),
            "tokens_per_second": (
                engine.tokens_per_second() if engine else 0.0,
                "Generated tokens per second over the last 5 s.",
            ),
        }
        for name, (value, text) in figures.items():
            yield GaugeMetricFamily(f"freechat_inference_{name}", text, value=value)
        yield CounterMetricFamily(
            "freechat_inference_generated_tokens",
            "Tokens generated since start.",
            value=engine.tokens_total if engine else 0,
        )
        yield CounterMetricFamily(
            "freechat_inference_prefill_tokens",
            "Prompt tokens run through the model since start.",
            value=engine.prefill_tokens_total if engine else 0,
        )
        yield CounterMetricFamily(
            "freechat_inference_prefix_cached_tokens",
            "Prompt tokens whose KV came from the prefix cache since start.",
            value=engine.cached_tokens_total if engine else 0,
        )
        yield GaugeMetricFamily(
            "freechat_inference_prefix_cache_tokens",
            "Tokens held in the prefix cache.",
            value=engine.prefix_cache.tokens if engine else 0,
        )
        yield CounterMetricFamily(
            "freechat_inference_requests",
            "Requests taken by the engine since start.",
            value=engine.requests_total if engine else 0,
        )


def template_message(message: ChatMessage) -> dict[str, Any]:
    """A message as chat templates read it (tool calls' arguments as objects)."""
    plain: dict[str, Any] = {"role": message.role, "content": message.text()}
    if message.name is not None:
        plain["name"] = message.name
    if message.tool_call_id is not None:
        plain["tool_call_id"] = message.tool_call_id
    if message.tool_calls:
        calls = []
        for call in message.tool_calls:
            try:
                arguments: Any = json.loads(call.function.arguments)
            except ValueError:
                arguments = call.function.arguments
            calls.append(
                {
                    "id": call.id,
                    "type": "function",
                    "function": {"name": call.function.name, "arguments": arguments},
                }
            )
        plain["tool_calls"] = calls
    return plain


class InferenceService:
    """One model served by one engine."""

    def __init__(self, config: InferenceConfig) -> None:
        self.config = config
        self.loaded: LoadedModel | None = None
        self.engine: Engine | None = None
        self.load_error: str | None = None
        self.registry = CollectorRegistry()
        self.registry.register(_EngineCollector(self))
        self.ttft = Histogram(
            "freechat_inference_time_to_first_token_seconds",
            "Time from submission to the first generated token.",
            buckets=TTFT_BUCKETS,
            registry=self.registry,
        )

    @property
    def model_name(self) -> str:
        """Name the API reports (the configured model until loaded)."""
        if self.loaded is not None:
            return self.loaded.name
        return self.config.served_model_name or self.config.model

    @property
    def is_demo(self) -> bool:
        """Whether the demo model is being served."""
        return self.loaded is not None and self.loaded.is_demo

    @property
    def ready(self) -> bool:
        """Whether requests can be served."""
        return self.engine is not None and self.engine.is_running

    def load(self) -> LoadedModel:
        """Load the configured model, or the demo model as allowed (blocking)."""
        try:
            return load_model(self.config)
        except ModelLoadError as exc:
            if not self.config.fallback_to_demo:
                raise
            from .demo_model import build_demo_model

            log.warning(
                "%s; serving the random-weight demo model from %s instead "
                "(answers are gibberish)",
                exc,
                self.config.demo_model_dir,
            )
            path = build_demo_model(Path(self.config.demo_model_dir))
            return load_model(self.config, str(path), is_demo=True)

    async def start(self, loaded: LoadedModel | None = None) -> None:
        """Load (on a worker thread) unless loaded already, then start the engine."""
        if self.engine is not None:
            return
        try:
            model = loaded or self.loaded
            if model is None:
                model = await asyncio.to_thread(self.load)
        except ModelLoadError as exc:
            self.load_error = str(exc)
            raise
        self.loaded = model
        engine = Engine(model, self.config)
        engine.ttft_observer = self.ttft.observe
        engine.start()
        self.engine = engine

    async def stop(self) -> None:
        """Stop the engine; pending requests finish as cancelled."""
        engine, self.engine = self.engine, None
        if engine is not None:
            await engine.stop()

    def require_engine(self) -> Engine:
        """The running engine, or `EngineStoppedError`."""
        if self.engine is None or not self.engine.is_running:
            raise EngineStoppedError("the model is not loaded yet")
        return self.engine

    def encode_chat(
        self,
        messages: list[ChatMessage],
        template_kwargs: dict[str, Any] | None = None,
        tools: list[Tool] | None = None,
        *,
        add_generation_prompt: bool = True,
    ) -> list[int]:
        """Prompt token ids of `messages` (and `tools`) through the chat template."""
        if self.loaded is None:
            raise EngineStoppedError("the model is not loaded yet")
        plain = [template_message(m) for m in messages]
        extra = dict(template_kwargs or {})
        if tools:
            extra["tools"] = [t.model_dump(exclude_none=True) for t in tools]
        try:
            encoded = self.loaded.tokenizer.apply_chat_template(
                plain,
                add_generation_prompt=add_generation_prompt,
                tokenize=True,
                **extra,
            )
        except TemplateError as exc:  # e.g. roles the template does not accept
            raise RequestRejectedError(f"chat template: {exc}") from exc
        except (
            TypeError,
            UnicodeError,
        ) as exc:  # the tokenizer refuses lone surrogates
            raise RequestRejectedError(_NOT_UNICODE) from exc
        # transformers 5 returns a BatchEncoding here, older versions a list.
        ids = encoded["input_ids"] if hasattr(encoded, "keys") else encoded
        return [int(i) for i in ids]

    def encode_text(self, text: str) -> list[int]:
        """Token ids of plain text, without special tokens."""
        if self.loaded is None:
            raise EngineStoppedError("the model is not loaded yet")
        try:
            ids = self.loaded.tokenizer.encode(text, add_special_tokens=False)
        except (TypeError, UnicodeError) as exc:
            raise RequestRejectedError(_NOT_UNICODE) from exc
        return [int(i) for i in ids]
