"""Grid messages -> (campaign, round), so a reaction on any grid, cached or not, is a vote."""

from __future__ import annotations

from redis.asyncio import Redis

from bot.state import keys
from bot.state.codec import as_str


class MessageIndex:
    def __init__(self, redis: Redis) -> None:
        self.redis = redis

    async def record(
        self, platform: str, message_id: str, campaign_id: str, round_no: int, grid_index: int = 0
    ) -> None:
        """``grid_index``: which of the round's grids of ten the message shows (0: the first)."""
        key = keys.message(platform, message_id)
        value = f"{campaign_id}:{round_no}" + (f":{grid_index}" if grid_index else "")
        async with self.redis.pipeline(transaction=False) as pipe:
            pipe.set(key, value)
            pipe.sadd(keys.campaign_messages(campaign_id), key)
            await pipe.execute()

    async def lookup(self, platform: str, message_id: str) -> tuple[str, int] | None:
        found = await self.lookup_grid(platform, message_id)
        return None if found is None else found[:2]

    async def lookup_grid(self, platform: str, message_id: str) -> tuple[str, int, int] | None:
        """(campaign, round, grid index) of a voting grid message."""
        raw = await self.redis.get(keys.message(platform, message_id))
        if raw is None:
            return None
        campaign_id, round_no, *grid = as_str(raw).split(":")
        return campaign_id, int(round_no), int(grid[0]) if grid else 0
