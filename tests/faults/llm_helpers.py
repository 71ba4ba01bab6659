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
