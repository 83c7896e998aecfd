"""Per-user image quota per UTC day."""

from __future__ import annotations

import time

from redis.asyncio import Redis

from bot.state import keys


def utc_day(now: float) -> str:
    return time.strftime("%Y%m%d", time.gmtime(now))


class QuotaStore:
    def __init__(self, redis: Redis) -> None:
        self.redis = redis

    async def used(self, user_id: str, now: float) -> int:
        raw = await self.redis.get(keys.quota(user_id, utc_day(now)))
        return int(raw) if raw is not None else 0

    async def add(self, user_id: str, images: int, now: float) -> int:
        key = keys.quota(user_id, utc_day(now))
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.incrby(key, images)
            pipe.expire(key, 2 * 86400)
            total, _ = await pipe.execute()
        return int(total)
