"""Scale-out: a `freechat inference` process registers in Consul, a bot's LLM client
finds it there and streams from it, and it deregisters when it stops."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path

from bot.llm import LLMClient
from bot.registry import ConsulRegistry
from bot.settings import LLMSettings
from tests.conftest import free_port
from tests.fakes.consul import FakeConsul


async def test_registers_serves_and_deregisters(
    demo_model_path: Path, tmp_path: Path
) -> None:
    consul = await FakeConsul().start()
    port = free_port()
    log = (tmp_path / "inference.log").open("wb")
    proc = subprocess.Popen(  # noqa: ASYNC220 - returns at once
        [
            sys.executable,
            "-m",
            "bot.cli",
            "inference",
            "--model",
            str(demo_model_path),
            "--port",
            str(port),
            "--consul-url",
            consul.url,
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
        env=os.environ | {"HF_HUB_OFFLINE": "1"},
    )
    registry = ConsulRegistry(consul.url, "freechat-inference")
    try:
        for _ in range(600):
            if consul.services or proc.poll() is not None:
                break
            await asyncio.sleep(0.1)
        assert consul.services, (tmp_path / "inference.log").read_text()[-2000:]
        (svc,) = consul.services.values()
        assert svc["Port"] == port
        assert svc["Check"]["HTTP"] == f"http://127.0.0.1:{port}/health"
        await registry.start()
        assert [e.base_url for e in registry.endpoints()] == [
            f"http://127.0.0.1:{port}/v1"
        ]
        llm = LLMClient(registry, LLMSettings(max_tokens=8, temperature=0))
        pieces = [c.text async for c in llm.stream([{"role": "user", "content": "hi"}])]
        await llm.close()
        assert "".join(pieces)
    finally:
        proc.terminate()
        await asyncio.to_thread(proc.wait, 20)
        log.close()
        await registry.stop()
    assert consul.services == {}
    await consul.stop()
