"""Helpers of the model and history fault tests: the OpenAI-style stub in a process
of its own, so a test can freeze it (SIGSTOP) or kill it like a real model server.

``python -m tests.faults.llm_helpers`` starts the stub and prints its port.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from bot.runtime import Runtime
from bot.settings import Settings

ROOT = Path(__file__).resolve().parents[2]


class StubProcess:
    """``tests.fakes.openai_stub`` served by a child process."""

    def __init__(self) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "tests.faults.llm_helpers"],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()  # the port, once it serves
        if not line.strip():
            self.proc.kill()
            raise RuntimeError("the stub process did not start")
        self.port = int(line)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def freeze(self) -> None:
        self.proc.send_signal(signal.SIGSTOP)

    def thaw(self) -> None:
        self.proc.send_signal(signal.SIGCONT)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.thaw()
            self.proc.kill()
            self.proc.wait(10)
        if self.proc.stdout is not None:
            self.proc.stdout.close()


def _serve() -> None:
    from tests.fakes.openai_stub import OpenAIStub

    stub = OpenAIStub(max_requests=10).start()
    print(stub.port, flush=True)  # the parent reads it
    while True:
        time.sleep(3600)


if __name__ == "__main__":
    _serve()


def load_plugins(*names: str) -> None:
    """Load FreeChat plugins through NoneBot, as the app does (once each; NoneBot
    must be initialised: the ``nonebug_init`` fixture)."""
    import nonebot

    for name in names:
        if sys.modules.get(f"plugins.{name}") is None:
            nonebot.load_plugin(f"plugins.{name}")


def make_runtime(settings: Settings | None = None) -> Runtime:
    """A runtime over in-process state and no model endpoint."""
    from bot.llm import LLMClient
    from bot.registry import StaticRegistry
    from bot.state import MemoryState

    settings = settings or Settings()
    registry = StaticRegistry([])
    return Runtime(
        settings=settings,
        state=MemoryState(),
        llm=LLMClient(registry, settings.llm),
        registry=registry,
    )
