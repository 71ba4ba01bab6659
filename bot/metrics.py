"""Prometheus metrics of the bot (``GET /metrics``)."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

MESSAGES_IN = Counter("freechat_messages_in_total", "Messages received", ["platform"])
MESSAGES_OUT = Counter("freechat_messages_out_total", "Messages sent", ["platform"])
MIDDLEWARE_SECONDS = Histogram(
    "freechat_middleware_seconds",
    "Time spent in each middleware (setup, not the streamed answer)",
    ["middleware"],
    buckets=(0.00005, 0.0001, 0.0005, 0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1.0),
)
LLM_TTFT = Histogram(
    "freechat_llm_time_to_first_token_seconds",
    "Time from request to the first token",
    buckets=(0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30),
)
ERRORS = Counter("freechat_errors_total", "Errors by kind", ["kind"])
SHED = Counter(
    "freechat_shed_total", "Messages refused because of overload", ["platform"]
)
IN_FLIGHT = Gauge("freechat_in_flight", "Messages being answered now")


def observe_middleware(name: str, seconds: float) -> None:
    MIDDLEWARE_SECONDS.labels(name).observe(seconds)


# -- the operator's dashboard (docker/grafana) -----------------------------------------
TOKENS = Counter(
    "freechat_tokens_total",
    "Model tokens by platform, group ('direct' outside groups) and direction",
    ["platform", "group", "direction"],
)
KEYWORD_HITS = Counter(
    "freechat_keyword_hits_total", "Keyword rules that answered", ["rule"]
)
BOT_ONLINE = Gauge(
    "freechat_bot_online", "1 while a platform connection is up", ["adapter", "self_id"]
)
BUDGET_REFUSALS = Counter(
    "freechat_budget_refusals_total",
    "Messages refused because a token budget was used up",
    ["platform", "scope"],
)


def observe_tokens(
    platform: str, group: str | None, prompt: int, completion: int
) -> None:
    where = group or "direct"
    if prompt:
        TOKENS.labels(platform, where, "in").inc(prompt)
    if completion:
        TOKENS.labels(platform, where, "out").inc(completion)
