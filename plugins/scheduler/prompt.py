"""A prompt job's text: the prompt answered through the whole middleware chain
(persona, history, budget, sensitive words) as a message in the first target's
chat, so that chat's persona applies and its budget is charged."""

from __future__ import annotations

from bot.chain import chain
from bot.context import ChatContext, closing
from bot.delivery import collect
from bot.llm import StreamInfo
from bot.runtime import get_runtime
from bot.send import parse_target

from .models import ScheduledJob


class PromptFailed(Exception):
    pass


async def generate(job: ScheduledJob) -> str:
    rt = get_runtime()
    target = parse_target(job.targets[0])
    group = target.id if target.kind != "user" else None
    ctx = ChatContext(
        platform=target.platform,
        user_id=target.id if group is None else f"scheduler:{job.name}",
        group_id=group,
        text=job.payload,
        max_tokens=rt.settings.llm.max_tokens,
        system_prompt=rt.settings.llm.system_prompt,
    )
    ctx.extra["scheduled_job"] = job.name

    async def model(c: ChatContext) -> None:
        info = StreamInfo()

        async def stream():  # type: ignore[no-untyped-def]
            upstream = rt.llm.stream(
                c.prompt(),
                model=c.model,
                max_tokens=c.max_tokens,
                temperature=c.temperature,
                user=c.user_key,
                info=info,
            )
            try:
                async with closing(upstream) as chunks:
                    async for chunk in chunks:
                        yield chunk
                c.extra["finish_reason"] = info.finish_reason or "stop"
            finally:
                c.usage.prompt_tokens = info.usage.prompt_tokens
                c.usage.completion_tokens = info.usage.completion_tokens

        c.reply = stream()

    await chain.run(ctx, model)
    text, _ = await collect(ctx.reply)
    if ctx.stopped_by is not None:
        raise PromptFailed(f"the chain stopped the prompt ({ctx.stopped_by}): {text}")
    if not text.strip():
        raise PromptFailed("the model answered nothing")
    return text
