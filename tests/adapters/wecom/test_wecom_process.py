"""WeCom's long connection in a whole ``freechat run`` process, with the real chat
plugin, the sensitive-word plugin and the OpenAI stub: the fake server sees a
growing sequence of frames ending in one ``finish: true``, and a filtered word that
the model streams split across chunks is in no frame."""

from __future__ import annotations

import asyncio
import itertools
import time
from pathlib import Path

from fake_server import FakeLongConnServer, text_callback
from wecom_setup import BOT_ID, long_bot

from tests.fakes.openai_stub import OpenAIStub

SECRET_WORD = "机密代号"


async def test_stream_through_the_whole_bot_never_shows_a_filtered_word(
    bot_process, openai_stub: OpenAIStub, ws_server: FakeLongConnServer, tmp_path: Path
) -> None:
    words = tmp_path / "words"
    words.mkdir()
    (words / "test.txt").write_text(SECRET_WORD + "\n", encoding="utf-8")
    answer = f"开头一段话，然后是{SECRET_WORD}，最后还有一些别的内容。" * 3
    openai_stub.set_default(answer, delay=0.05, chunk_chars=2)
    await bot_process(
        {
            "plugins": {
                "chat": {},
                "sensitive_words": {"dirs": [str(words)], "default_action": "mask"},
            },
            "adapters": {
                "wecom": {
                    "bots": [long_bot()],
                    "ws_url": ws_server.url,
                    "stream_interval": 0.1,
                }
            },
        }
    )
    deadline = time.monotonic() + 20
    while BOT_ID not in ws_server.active:
        assert time.monotonic() < deadline, "the bot did not subscribe"
        await asyncio.sleep(0.05)
    req_id = await ws_server.push(BOT_ID, text_callback("讲讲", user="wangwu"))
    log = await ws_server.wait_finished(req_id, limit=30)
    assert ws_server.violations == []
    assert len(log.frames) >= 3
    assert [f["stream"]["finish"] for f in log.frames].count(True) == 1
    assert log.frames[-1]["stream"]["finish"] is True
    for before, after in itertools.pairwise(log.contents):
        assert after.startswith(before)
    assert all(SECRET_WORD not in c for c in log.contents)
    assert "开头一段话" in log.contents[-1]
    assert log.contents[-1].count("****") == 3  # masked, not dropped
    assert len(openai_stub.requests) == 1
