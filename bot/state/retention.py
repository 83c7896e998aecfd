"""Finished campaigns (done, cancelled, failed) expire after a retention period, with every key they own."""

from __future__ import annotations

from redis.asyncio import Redis

from bot.core.model import TERMINAL_STAGES, Campaign, Stage
from bot.state import keys
from bot.state.codec import as_str

FINISHED_STAGES = TERMINAL_STAGES | {Stage.DONE}
DEFAULT_RETENTION_SECONDS = 30 * 86400


def is_finished(campaign: Campaign) -> bool:
    return campaign.stage in FINISHED_STAGES


async def owned_keys(redis: Redis, campaign: Campaign) -> list[str]:
    """The keys besides the document itself that belong to a campaign."""
    t = campaign.thread
    thread_key = keys.thread(t.platform, t.channel_id, t.thread_id)
    owned = [keys.campaign_messages(campaign.id)]
    current = await redis.get(thread_key)
    if current is not None and as_str(current) == campaign.id:  # a later campaign may own the thread now
        owned.append(thread_key)
    owned += [as_str(k) for k in await redis.smembers(keys.campaign_messages(campaign.id))]  # type: ignore[misc]
    owned += [keys.votes(campaign.id, rnd.number, n) for rnd in campaign.rounds for n in rnd.candidates]
    return owned


async def expire_owned(redis: Redis, campaign: Campaign, seconds: int) -> None:
    async with redis.pipeline(transaction=False) as pipe:
        for key in await owned_keys(redis, campaign):
            pipe.expire(key, seconds)
        await pipe.execute()


async def persist_owned(redis: Redis, campaign: Campaign) -> None:
    async with redis.pipeline(transaction=False) as pipe:
        for key in await owned_keys(redis, campaign):
            pipe.persist(key)
        await pipe.execute()
