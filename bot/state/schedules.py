"""Schedules: JSON at ``dl:schedule:{id}``, ``dl:schedules`` (id -> next fire time), a set per channel.

A replica claims a due run by moving its score from the time it read to the next fire time in one
script: exactly one of the replicas that read the same due time succeeds, so a run fires once.
"""

from __future__ import annotations

from typing import Any

from redis.asyncio import Redis

from bot.core.schedule import Schedule
from bot.state import keys
from bot.state.codec import as_str

# KEYS[1] dl:schedules; ARGV: schedule id, the due time the caller read, the next fire time
_CLAIM = """
local score = redis.call('ZSCORE', KEYS[1], ARGV[1])
if not score or tonumber(score) ~= tonumber(ARGV[2]) then return 0 end
redis.call('ZADD', KEYS[1], ARGV[3], ARGV[1])
return 1
"""


class ScheduleStore:
    def __init__(self, redis: Redis) -> None:
        self.redis = redis
        self._claim = redis.register_script(_CLAIM)

    async def add(self, schedule: Schedule) -> None:
        async with self.redis.pipeline(transaction=False) as pipe:
            pipe.set(keys.schedule(schedule.id), schedule.model_dump_json())
            pipe.sadd(keys.channel_schedules(schedule.platform, schedule.channel_id), schedule.id)
            pipe.zadd(keys.SCHEDULES, {schedule.id: schedule.next_at})
            await pipe.execute()

    async def exists(self, schedule_id: str) -> bool:
        return bool(await self.redis.exists(keys.schedule(schedule_id)))

    async def get(self, schedule_id: str) -> Schedule | None:
        raw = await self.redis.get(keys.schedule(schedule_id))
        return None if raw is None else Schedule.model_validate_json(raw)

    async def save(self, schedule: Schedule) -> None:
        """Rewrite a schedule that still exists (a removed one stays removed)."""
        await self.redis.set(keys.schedule(schedule.id), schedule.model_dump_json(), xx=True)

    async def in_channel(self, platform: str, channel_id: str) -> list[Schedule]:
        index = keys.channel_schedules(platform, channel_id)
        ids = sorted(as_str(m) for m in await self.redis.smembers(index))  # type: ignore[misc]
        if not ids:
            return []
        raws = await self.redis.mget([keys.schedule(i) for i in ids])
        gone = [i for i, raw in zip(ids, raws, strict=True) if raw is None]
        if gone:
            await self.redis.srem(index, *gone)  # type: ignore[misc]
        found = [Schedule.model_validate_json(raw) for raw in raws if raw is not None]
        if not found:
            return []
        # the sorted set holds the fire time a replica claimed last, even if it stopped before saving it
        scores = await self.redis.zmscore(keys.SCHEDULES, [s.id for s in found])
        return [
            s if score is None else s.model_copy(update={"next_at": float(score)})
            for s, score in zip(found, scores, strict=True)
        ]

    async def remove(self, schedule: Schedule) -> bool:
        """True when this call removed it."""
        async with self.redis.pipeline(transaction=False) as pipe:
            pipe.zrem(keys.SCHEDULES, schedule.id)
            pipe.srem(keys.channel_schedules(schedule.platform, schedule.channel_id), schedule.id)
            pipe.delete(keys.schedule(schedule.id))
            _, _, deleted = await pipe.execute()
        return bool(deleted)

    async def forget(self, schedule_id: str) -> None:
        """Drop a fire time whose schedule is gone."""
        await self.redis.zrem(keys.SCHEDULES, schedule_id)

    async def next_at(self, schedule_id: str) -> float | None:
        score = await self.redis.zscore(keys.SCHEDULES, schedule_id)
        return None if score is None else float(score)

    async def due(self, now: float, limit: int = 100) -> list[tuple[str, float]]:
        found: Any = await self.redis.zrangebyscore(
            keys.SCHEDULES, "-inf", now, start=0, num=limit, withscores=True
        )
        return [(as_str(member), float(score)) for member, score in found]

    async def claim(self, schedule_id: str, due_at: float, next_at: float) -> bool:
        """Move a due run at ``due_at`` to ``next_at``; True for exactly one caller."""
        return bool(await self._claim(keys=[keys.SCHEDULES], args=[schedule_id, repr(due_at), repr(next_at)]))
