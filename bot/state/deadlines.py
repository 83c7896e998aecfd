"""Round deadlines: one sorted set, member "{campaign}:{round}", score = deadline.

A replica claims a due round by removing its member: ZREM answers 1 to exactly one caller.
"""

from __future__ import annotations

from redis.asyncio import Redis

from bot.state import keys
from bot.state.codec import as_str


class DeadlineStore:
    def __init__(self, redis: Redis) -> None:
        self.redis = redis

    async def set(self, campaign_id: str, round_no: int, deadline: float) -> None:
        await self.redis.zadd(keys.DEADLINES, {keys.deadline_member(campaign_id, round_no): deadline})

    async def remove(self, campaign_id: str, round_no: int) -> bool:
        return bool(await self.redis.zrem(keys.DEADLINES, keys.deadline_member(campaign_id, round_no)))

    async def get(self, campaign_id: str, round_no: int) -> float | None:
        score = await self.redis.zscore(keys.DEADLINES, keys.deadline_member(campaign_id, round_no))
        return None if score is None else float(score)

    async def due(self, now: float, limit: int = 100) -> list[tuple[str, int]]:
        members = await self.redis.zrangebyscore(keys.DEADLINES, "-inf", now, start=0, num=limit)
        out = []
        for m in members:
            parsed = keys.parse_deadline_member(as_str(m))
            if parsed is not None:
                out.append(parsed)
        return out

    async def claim(self, campaign_id: str, round_no: int) -> bool:
        """True for exactly one of the replicas that try to close the same due round."""
        return await self.remove(campaign_id, round_no)
