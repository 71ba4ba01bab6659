"""The engine inside the bot's process (`freechat run`).

The bot creates `EmbeddedInference(config)`, mounts `.app` at `/inference` (so its
LLM client calls `http://host:port/inference/v1/chat/completions`), then awaits
`start()` and, on shutdown, `stop()`. The app relies on no lifespan of its own:
a mounted sub-app never receives lifespan events. Loading runs on a worker
thread, so the event loop keeps serving while the weights load; when the
configured model cannot be loaded the demo model is built and served instead
(one warning line says so) and `is_demo` becomes true.
"""

from __future__ import annotations

from fastapi import FastAPI

from .config import InferenceConfig
from .server import create_app
from .service import InferenceService


class EmbeddedInference:
    """An inference service started and stopped by the bot."""

    def __init__(self, config: InferenceConfig) -> None:
        self.config = config
        self.service = InferenceService(config)
        self.app: FastAPI = create_app(self.service)

    @property
    def model_name(self) -> str:
        """The served model's name (the configured one until loaded)."""
        return self.service.model_name

    @property
    def is_demo(self) -> bool:
        """Whether the random-weight demo model is being served."""
        return self.service.is_demo

    @property
    def ready(self) -> bool:
        """Whether the engine is serving."""
        return self.service.ready

    async def start(self) -> None:
        """Load the model on a worker thread and start the engine thread."""
        await self.service.start()

    async def stop(self) -> None:
        """Cancel every request and join the engine thread."""
        await self.service.stop()
