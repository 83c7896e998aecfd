"""Grid messages -> (campaign, round), so a reaction on any grid, cached or not, is a vote."""

from __future__ import annotations

from redis.asyncio import Redis

from bot.state import keys
from bot.state.codec import as_str


class MessageIndex:
    def __init__(self, redis: Redis) -> None:
        self.redis = redis

    async def record(self, platform: str, message_id: str, campaign_id: str, round_no: int) -> None:
        key = keys.message(platform, message_id)
        async with self.redis.pipeline(transaction=False) as pipe:
            pipe.set(key, f"{campaign_id}:{round_no}")
            pipe.sadd(keys.campaign_messages(campaign_id), key)
            await pipe.execute()

    async def lookup(self, platform: str, message_id: str) -> tuple[str, int] | None:
        raw = await self.redis.get(keys.message(platform, message_id))
        if raw is None:
            return None
        campaign_id, _, round_no = as_str(raw).rpartition(":")
        return campaign_id, int(round_no)
