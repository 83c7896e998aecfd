"""A channel's live campaigns (neither cancelled nor failed), kept apart from its whole history.

"Which campaign does this channel command mean?" looks only at live campaigns; reading them from this
small sorted set keeps that answer as cheap at 10,000 campaigns in the channel as at 10. The campaign
store keeps it up to date on every create and stage change. A reader checks each document's stage and
drops what is no longer live, and a channel whose index was never built (its campaigns predate it) is
built once from its history.
"""

from __future__ import annotations

from redis.asyncio import Redis

from bot.core.model import TERMINAL_STAGES, Campaign
from bot.state import keys
from bot.state.codec import as_str


def is_live(campaign: Campaign) -> bool:
    return campaign.stage not in TERMINAL_STAGES


class LiveIndex:
    def __init__(self, redis: Redis) -> None:
        self.redis = redis

    async def note(self, old: Campaign | None, new: Campaign) -> None:
        """Record ``new``'s stage; ``old`` is the document it replaced (None for a new campaign)."""
        t = new.thread
        index = keys.live_campaigns(t.platform, t.channel_id)
        if is_live(new) and (old is None or not is_live(old)):
            await self.redis.zadd(index, {new.id: new.created_at})
        elif not is_live(new) and (old is None or is_live(old)):
            await self.redis.zrem(index, new.id)

    async def ids(self, platform: str, channel_id: str) -> list[str]:
        """Ids of the channel's live campaigns, newest first, as the index holds them."""
        rows = await self.redis.zrevrange(keys.live_campaigns(platform, channel_id), 0, -1)
        return [as_str(member) for member in rows]

    async def is_built(self, platform: str, channel_id: str) -> bool:
        return bool(await self.redis.exists(keys.live_campaigns_built(platform, channel_id)))

    async def rebuild(self, platform: str, channel_id: str, campaigns: list[Campaign]) -> None:
        """Replace the index with the live ones among ``campaigns`` (the channel's whole history)."""
        index = keys.live_campaigns(platform, channel_id)
        live = {c.id: c.created_at for c in campaigns if is_live(c)}
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.delete(index)
            if live:
                pipe.zadd(index, live)
            pipe.set(keys.live_campaigns_built(platform, channel_id), "1")
            await pipe.execute()

    async def drop(self, platform: str, channel_id: str, campaign_ids: list[str]) -> None:
        if campaign_ids:
            await self.redis.zrem(keys.live_campaigns(platform, channel_id), *campaign_ids)
