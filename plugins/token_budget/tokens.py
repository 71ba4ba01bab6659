"""Token counting with the tokenizer of the model that answers.

:class:`TokenCounter` tries, in order: the inference service's ``POST /v1/tokenize``
(the FreeChat engine; vLLM and SGLang have the same endpoint), a local Hugging Face
tokenizer (``token_budget_tokenizer_path``), and a conservative estimate: 1.5 tokens
per CJK character, one per 3 other characters, 4 per message. The estimate errs
high, so budgets are never undercounted; its use is logged once.
"""

from __future__ import annotations

import asyncio
import logging
import math
import re
import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

import httpx

log = logging.getLogger(__name__)

PER_MESSAGE = 4
#: seconds the service is not asked again after it failed to answer
RETRY_AFTER = 30.0


def _is_cjk(ch: str) -> bool:
    cp = ord(ch)
    return (
        0x2E80 <= cp <= 0x9FFF
        or 0xAC00 <= cp <= 0xD7AF
        or 0xF900 <= cp <= 0xFAFF
        or 0xFF00 <= cp <= 0xFFEF
        or 0x20000 <= cp <= 0x3FFFF
    )


#: the ranges of :func:`_is_cjk`, for counting them in C rather than per character
_CJK = re.compile(
    "[\u2e80-\u9fff\uac00-\ud7af\uf900-\ufaff\uff00-\uffef\U00020000-\U0003ffff]"
)


def estimate_text(text: str) -> int:
    cjk = len(_CJK.findall(text))
    return math.ceil(cjk * 1.5) + math.ceil((len(text) - cjk) / 3)


def estimate(messages: list[dict[str, str]]) -> int:
    return sum(estimate_text(m.get("content", "")) + PER_MESSAGE for m in messages)


def _key(messages: list[dict[str, str]]) -> tuple[tuple[str, str], ...]:
    if len(messages) == 1:  # history is counted message by message
        m = messages[0]
        return ((m["role"], m.get("content", "")),)
    return tuple((m["role"], m.get("content", "")) for m in messages)


class LocalTokenizer:
    """A Hugging Face tokenizer from a local folder (never downloads)."""

    def __init__(self, path: str) -> None:
        from transformers import AutoTokenizer

        self.tok: Any = AutoTokenizer.from_pretrained(path, local_files_only=True)

    def count(self, messages: list[dict[str, str]]) -> int:
        if getattr(self.tok, "chat_template", None):
            ids = self.tok.apply_chat_template(
                messages, tokenize=True, add_generation_prompt=True
            )
            if isinstance(ids, dict):  # BatchEncoding in newer transformers
                ids = ids["input_ids"]
            return len(ids)
        return sum(
            len(self.tok.encode(m.get("content", ""), add_special_tokens=False))
            + PER_MESSAGE
            for m in messages
        )

    def count_text(self, text: str) -> int:
        return len(self.tok.encode(text, add_special_tokens=False))


class TokenCounter:
    """Counts prompt and completion tokens; see the module docstring."""

    def __init__(
        self,
        *,
        mode: str = "auto",
        tokenizer_path: str = "",
        base_url: str | Callable[[], str] = "",
        api_key: str = "",
        timeout: float = 3.0,
        cache_size: int = 4096,
    ) -> None:
        self.mode = mode
        self.tokenizer_path = tokenizer_path
        #: the OpenAI-compatible base URL (ending in /v1), or a function giving it
        self._base_url = base_url
        self.api_key = api_key
        self._client: httpx.AsyncClient | None = None
        self._timeout = timeout
        self._service_ok = mode in ("auto", "service")
        #: after a failed call the service is skipped until then (monotonic)
        self._service_retry_at = 0.0
        self._local: LocalTokenizer | None = None
        self._local_failed = mode not in ("auto", "local") or not tokenizer_path
        self._cache: OrderedDict[tuple[tuple[str, str], ...], int] = OrderedDict()
        self._cache_size = cache_size
        self._warned = False
        #: how the last count was made: service, local or estimate
        self.last_source = ""

    async def close(self) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None

    @property
    def base_url(self) -> str:
        url = self._base_url() if callable(self._base_url) else self._base_url
        return url.rstrip("/")

    async def _service(self, body: dict[str, Any]) -> int | None:
        if not self._service_ok or not self.base_url:
            return None
        if time.monotonic() < self._service_retry_at:
            return None
        if self._client is None:
            self._client = httpx.AsyncClient(timeout=self._timeout)
        headers = {"Authorization": f"Bearer {self.api_key}"} if self.api_key else {}
        try:
            resp = await self._client.post(
                f"{self.base_url}/tokenize", json=body, headers=headers
            )
        except httpx.HTTPError as exc:
            log.warning("tokenize at %s failed: %s", self.base_url, exc)
            self._service_retry_at = time.monotonic() + RETRY_AFTER
            return None
        if resp.status_code in (404, 405, 501):
            log.info("%s has no /tokenize; counting locally", self.base_url)
            self._service_ok = False
            return None
        try:
            resp.raise_for_status()
            return int(resp.json()["count"])
        except (httpx.HTTPError, ValueError, KeyError, TypeError) as exc:
            log.warning("tokenize at %s answered badly: %s", self.base_url, exc)
            self._service_retry_at = time.monotonic() + RETRY_AFTER
            return None

    async def _local_tokenizer(self) -> LocalTokenizer | None:
        if self._local is None and not self._local_failed:
            try:
                self._local = await asyncio.to_thread(
                    LocalTokenizer, self.tokenizer_path
                )
            except (OSError, ValueError) as exc:
                log.warning("no local tokenizer at %s: %s", self.tokenizer_path, exc)
                self._local_failed = True
        return self._local

    def _estimated(self) -> None:
        self.last_source = "estimate"
        if not self._warned:
            self._warned = True
            log.warning("counting tokens with a conservative estimate")

    def known(self, messages: list[dict[str, str]]) -> int | None:
        """The count of ``messages`` when it needs no waiting: from the cache, or
        counted here when neither the service nor loading a tokenizer is needed.
        None otherwise (then :meth:`count` it)."""
        key = _key(messages)
        cached = self._cache.get(key)
        if cached is not None:
            self._cache.move_to_end(key)
            return cached
        if (
            self._service_ok
            and self.base_url
            and time.monotonic() >= self._service_retry_at
        ):
            return None
        if self._local is not None:
            n = self._local.count(messages)
            self.last_source = "local"
        elif self._local_failed:
            n = estimate(messages)
            self._estimated()
        else:
            return None  # the local tokenizer is not loaded yet
        self._remember(key, n)
        return n

    def _remember(self, key: tuple[tuple[str, str], ...], n: int) -> None:
        self._cache[key] = n
        if len(self._cache) > self._cache_size:
            self._cache.popitem(last=False)

    async def count(self, messages: list[dict[str, str]]) -> int:
        """Tokens of a chat prompt (cached per message list)."""
        key = _key(messages)
        cached = self._cache.get(key)
        if cached is not None:
            self._cache.move_to_end(key)
            return cached
        n = await self._service({"messages": messages})
        self.last_source = "service"
        if n is None:
            local = await self._local_tokenizer()
            if local is not None:
                n = local.count(messages)
                self.last_source = "local"
            else:
                n = estimate(messages)
                self._estimated()
        self._remember(key, n)
        return n

    async def count_text(self, text: str) -> int:
        """Tokens of generated text (when the service reported no usage)."""
        if not text:
            return 0
        n = await self._service({"text": text})
        if n is not None:
            return n
        local = await self._local_tokenizer()
        if local is not None:
            return local.count_text(text)
        self._estimated()
        return estimate_text(text)
