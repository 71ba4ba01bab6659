"""Settings of the token_budget plugin (``plugins: {token_budget: {...}}``).

Quotas are tokens (prompt + completion) per day and per month; 0 = unlimited.
``BudgetOverride`` rows replace the defaults for one user or group.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field


class Config(BaseModel):
    token_budget_user_daily: int = Field(200_000, ge=0)
    token_budget_user_monthly: int = Field(3_000_000, ge=0)
    token_budget_group_daily: int = Field(1_000_000, ge=0)
    token_budget_group_monthly: int = Field(0, ge=0)
    #: where days and months begin
    token_budget_timezone: str = "Asia/Shanghai"
    #: ``auto`` = the service's /v1/tokenize, else the local tokenizer, else estimate
    token_budget_tokenizer: Literal["auto", "service", "local", "estimate"] = "auto"
    #: a local Hugging Face tokenizer folder (used without the service)
    token_budget_tokenizer_path: str = ""
    #: admins are not counted
    token_budget_exempt_admins: bool = False
    #: drop the oldest history to fit llm.context_window - max_tokens
    token_budget_trim: bool = True
    #: seconds an override lookup is cached (changes also arrive on the feed)
    token_budget_override_cache: float = Field(60.0, ge=0)
    #: refusal; ``{scope}`` is user/group, ``{period}`` day/month
    token_budget_message: str = (
        "Your {scope} token budget for this {period} is used up. "
        "额度已用完，请稍后再试。"
    )
    #: when the shared state is down, budgets fail closed with this answer
    token_budget_unavailable_message: str = (
        "Usage accounting is unavailable right now, please try again shortly. "
        "额度服务暂不可用，请稍后再试。"
    )
    #: answer when the message alone does not fit the context window
    token_budget_too_long_message: str = "Your message is too long. 消息太长了。"
