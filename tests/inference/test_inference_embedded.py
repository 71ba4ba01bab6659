"""Embedded mode: the app mounted under /inference of a bot-like app, fallback."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import openai
import pytest
from fastapi import FastAPI

from inference.config import InferenceConfig
from inference.embedded import EmbeddedInference
from inference.exceptions import ModelLoadError
from tests.inference.inference_helpers import start_server


def bot_app(embedded: EmbeddedInference) -> FastAPI:
    """What the bot does: mount the app, start and stop the engine itself."""

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        await embedded.start()
        yield
        await embedded.stop()

    app = FastAPI(lifespan=lifespan)
    app.mount("/inference", embedded.app)
    return app


def test_mounted_app_streams_and_falls_back_to_demo(
    demo_model_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    config = InferenceConfig(
        model="/nonexistent/no-such-model",
        demo_model_dir=str(demo_model_path),
    )
    embedded = EmbeddedInference(config)
    live = start_server(bot_app(embedded))
    try:
        assert embedded.is_demo
        assert embedded.model_name == "freechat-demo"
        assert "no-such-model" in caplog.text
        api = openai.OpenAI(base_url=f"{live.url}/inference/v1", api_key="x")
        stream = api.chat.completions.create(
            model=embedded.model_name,
            messages=[{"role": "user", "content": "你好"}],
            max_tokens=8,
            stream=True,
        )
        deltas = [c.choices[0].delta.content for c in stream if c.choices]
        models = api.models.list()
        api.close()
        assert len([d for d in deltas if d]) >= 1
        assert models.data[0].id == "freechat-demo"
    finally:
        live.stop()
    assert not embedded.ready


async def test_no_fallback_names_the_model(tmp_path: Path) -> None:
    config = InferenceConfig(
        model=str(tmp_path / "missing-model"),
        fallback_to_demo=False,
    )
    embedded = EmbeddedInference(config)
    with pytest.raises(ModelLoadError, match="missing-model"):
        await embedded.start()
    await embedded.stop()
