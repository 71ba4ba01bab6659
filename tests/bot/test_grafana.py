"""The provisioned Grafana dashboard: valid JSON, and every panel's query names a
metric that a running bot exports on /metrics."""

from __future__ import annotations

import json
import re
from pathlib import Path

import httpx
import yaml

DOCKER = Path(__file__).resolve().parents[2] / "docker"
DASHBOARD = DOCKER / "grafana" / "dashboards" / "freechat.json"
SUFFIXES = {
    "counter": ("_total", "_created"),
    "gauge": ("",),
    "histogram": ("_bucket", "_sum", "_count", "_created"),
    "summary": ("_sum", "_count", "_created", ""),
}


def _exported(text: str) -> set[str]:
    names: set[str] = set()
    for name, kind in re.findall(r"^# TYPE (\S+) (\S+)$", text, re.M):
        base = name.removesuffix("_total") if kind == "counter" else name
        names |= {base + s for s in SUFFIXES.get(kind, ("",))}
    return names


async def test_every_panel_queries_an_exported_metric(bot_process) -> None:
    bp = await bot_process({"plugins": {"chat": {}, "keywords": {}}})
    async with httpx.AsyncClient(base_url=bp.base_url) as client:
        exported = _exported((await client.get("/metrics")).text)
    assert "freechat_tokens_total" in exported
    dashboard = json.loads(DASHBOARD.read_text())
    assert dashboard["uid"]
    assert dashboard["panels"]
    seen = set()
    for panel in dashboard["panels"]:
        assert panel["targets"], panel["title"]
        for target in panel["targets"]:
            names = set(re.findall(r"\bfreechat_\w+", target["expr"]))
            assert names, (panel["title"], target["expr"])
            missing = names - exported
            assert not missing, (panel["title"], missing)
            seen |= names
    # the dashboard shows what the issue asks for
    for wanted in ("freechat_tokens_total", "freechat_keyword_hits_total",
                   "freechat_bot_online", "freechat_budget_refusals_total"):  # fmt: skip
        assert wanted in seen


def test_compose_provisions_prometheus_and_grafana() -> None:
    compose = yaml.safe_load((DOCKER / "compose.yml").read_text())
    services = compose["services"]
    assert {"prometheus", "grafana"} <= set(services)
    scrape = yaml.safe_load((DOCKER / "prometheus" / "prometheus.yml").read_text())
    jobs = {job["job_name"] for job in scrape["scrape_configs"]}
    assert "freechat-bot" in jobs
    for volume in services["grafana"]["volumes"]:
        source = volume.split(":", 1)[0]
        assert (DOCKER / source).exists(), source
