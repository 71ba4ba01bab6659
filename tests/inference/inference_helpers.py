"""Real servers on loopback for the inference tests (uvicorn on a thread)."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass
from typing import TypeVar

import uvicorn
from fastapi import FastAPI

T = TypeVar("T")


@dataclass
class LiveServer:
    """A uvicorn server running on its own thread and loop."""

    server: uvicorn.Server
    thread: threading.Thread
    app: FastAPI

    @property
    def loop(self) -> asyncio.AbstractEventLoop:
        """The server's event loop."""
        loop = getattr(self, "_loop", None)
        assert loop is not None
        return loop

    @property
    def port(self) -> int:
        """The bound port."""
        sockets = self.server.servers[0].sockets
        return int(sockets[0].getsockname()[1])

    @property
    def url(self) -> str:
        """Base URL, e.g. http://127.0.0.1:PORT."""
        return f"http://127.0.0.1:{self.port}"

    def call(self, fn: Callable[[], T]) -> T:
        """Run `fn` on the server's loop and return its result."""
        future: Future[T] = Future()

        def run() -> None:
            try:
                future.set_result(fn())
            except Exception as exc:  # handed back to the test
                future.set_exception(exc)

        self.loop.call_soon_threadsafe(run)
        return future.result(timeout=10)

    def task_count(self) -> int:
        """Number of unfinished asyncio tasks on the server's loop."""
        return self.call(lambda: len(asyncio.all_tasks(self.loop)))

    def stop(self) -> None:
        """Shut the server down and join its thread."""
        self.server.should_exit = True
        self.thread.join(timeout=30)


def start_server(app: FastAPI) -> LiveServer:
    """Serve `app` on a free loopback port; return once it accepts connections."""
    config = uvicorn.Config(
        app, host="127.0.0.1", port=0, log_level="warning", lifespan="on"
    )
    server = uvicorn.Server(config)
    live = LiveServer(server, threading.Thread(target=lambda: None), app)

    def run() -> None:
        loop = asyncio.new_event_loop()
        live._loop = loop  # type: ignore[attr-defined]
        loop.run_until_complete(server.serve())
        loop.close()

    live.thread = threading.Thread(target=run, name="test-uvicorn", daemon=True)
    live.thread.start()
    deadline = time.monotonic() + 60
    while not server.started:
        if not live.thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("test server did not start")
        time.sleep(0.02)
    return live
