"""A graceful restart of ``freechat run`` (what ``freechat plugin install
--restart`` and ``/plugin install ... restart`` ask for): SIGHUP drains and stops
the server, and the same command starts again in the same process slot."""

from __future__ import annotations

import os
import signal
from typing import Any

import httpx

from tests.adapters.qq.adapter_harness import eventually


async def test_sighup_restarts_gracefully(bot_process: Any) -> None:
    bp = await bot_process({})
    pid_file = bp.data_dir / "freechat.pid"
    assert int(pid_file.read_text()) == bp.proc.pid
    os.kill(bp.proc.pid, signal.SIGHUP)
    await eventually(lambda: "Restarting ..." in bp.log(), 30)

    async def serving_again() -> bool:
        if bp.log().count("Application startup complete") < 2:
            return False
        async with httpx.AsyncClient() as client:
            try:
                resp = await client.get(f"{bp.base_url}/health", timeout=1.0)
            except httpx.HTTPError:
                return False
            return resp.status_code == 200

    await eventually(serving_again, 60)
    assert bp.proc.poll() is None
    assert "Application shutdown complete" in bp.log()
    assert int(pid_file.read_text()) == bp.proc.pid
