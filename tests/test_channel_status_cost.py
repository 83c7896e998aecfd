"""/status in a channel, and the channel command that looks for "the only live campaign", cost the same
number of Redis commands and campaign documents at 30 campaigns as at 500."""

from __future__ import annotations

from pathlib import Path

import redis.asyncio as aioredis

from bot.core import grammar, phrasing
from bot.core.commands import Command, CommandError
from bot.core.model import Campaign, Stage, ThreadRef, User
from bot.state.campaigns import CampaignStore
from bot.usecases import channel
from bot.usecases.context import UseCaseContext
from engine.artifacts import ArtifactStore

ANA = User(id="ana", name="ana")


def _parse(text: str) -> Command:
    parsed = grammar.parse(text)
    assert not isinstance(parsed, CommandError), parsed
    return parsed


async def _fill(store: CampaignStore, channel_id: str, total: int) -> None:
    for i in range(total):
        thread = ThreadRef(platform="web", channel_id=channel_id, thread_id=f"t{i}")
        stage = Stage.VOTING if i >= total - 2 else Stage.CANCELLED
        campaign = Campaign(
            id=f"{channel_id}{i:05d}", thread=thread, owner="ana", created_at=float(i), updated_at=float(i),
            stage=stage,
        )  # fmt: skip
        await store.create(campaign)


async def _commands_for(
    redis: aioredis.Redis, ctx: UseCaseContext, channel_id: str, text: str
) -> tuple[int, str]:
    await redis.config_resetstat()
    (reply,) = await channel.run(ctx, "web", channel_id, ANA, _parse(text), phrasing.for_channel("web"))
    stats = await redis.info("commandstats")
    calls = sum(int(v["calls"]) for k, v in stats.items() if k not in ("cmdstat_info", "cmdstat_config"))
    return calls, reply


async def test_channel_status_costs_the_same_at_30_and_500_campaigns(
    redis: aioredis.Redis, tmp_path: Path
) -> None:
    ctx = UseCaseContext.build(redis, ArtifactStore(tmp_path / "artifacts"), {})
    await _fill(ctx.campaigns, "small", 30)
    await _fill(ctx.campaigns, "big", 500)
    for channel_id in ("small", "big"):  # the live index of channels that predate it is built once
        await ctx.campaigns.live_in_channel("web", channel_id)

    small, small_reply = await _commands_for(redis, ctx, "small", "/status")
    big, big_reply = await _commands_for(redis, ctx, "big", "/status")
    assert small == big
    assert big_reply.startswith("500 campaigns in this channel") and "… and 485 older." in big_reply
    assert small_reply.startswith("30 campaigns in this channel")

    small, small_reply = await _commands_for(redis, ctx, "small", "/cancel")
    big, big_reply = await _commands_for(redis, ctx, "big", "/cancel")
    assert small == big
    assert "could mean any of this channel's 2 live campaigns" in big_reply
    assert big_reply.count("• big004") == 2
