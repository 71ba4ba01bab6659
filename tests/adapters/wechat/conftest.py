"""Fixtures of the WeChat adapter tests (the harness is shared with the QQ tests)."""

from __future__ import annotations

from tests.adapters.qq.adapter_harness import answerer, serve

__all__ = ["answerer", "serve"]
