from __future__ import annotations

import redis.asyncio as aioredis

from bot.state.workers import WORKER_GONE_AFTER_SECONDS, WorkerBeats
from engine import api

NOW = 1_800_000_000.0


def beat(worker: str, at: float, models: list[str] | None = None) -> str:
    return api.WorkerBeat(
        worker=worker, device="cpu", model="tiny-sd", at=at, models=models or []
    ).model_dump_json()


async def test_live_reads_only_recent_readable_heartbeats_and_writes_nothing(redis: aioredis.Redis) -> None:
    await redis.hset(api.WORKERS_KEY, "fresh", beat("fresh", NOW - 5, ["sd15"]))
    await redis.hset(api.WORKERS_KEY, "silent", beat("silent", NOW - WORKER_GONE_AFTER_SECONDS - 1))
    await redis.hset(api.WORKERS_KEY, "garbled", "not json")
    live = await WorkerBeats(redis).live(NOW)
    assert list(live) == ["fresh"] and live["fresh"].models == ["sd15"]
    assert await redis.hlen(api.WORKERS_KEY) == 3  # type: ignore[misc]


async def test_forget_silent_drops_silent_and_unreadable_heartbeats_only(redis: aioredis.Redis) -> None:
    await redis.hset(api.WORKERS_KEY, "fresh", beat("fresh", NOW - 5))
    await redis.hset(api.WORKERS_KEY, "silent", beat("silent", NOW - 3600))
    await redis.hset(api.WORKERS_KEY, "garbled", "not json")
    workers = WorkerBeats(redis)
    assert await workers.forget_silent(NOW) == 2
    assert await redis.hkeys(api.WORKERS_KEY) == [b"fresh"]  # type: ignore[misc]
    assert await workers.forget_silent(NOW) == 0


async def test_a_worker_that_beats_again_before_the_delete_keeps_its_heartbeat(redis: aioredis.Redis) -> None:
    stale = beat("back", NOW - 3600)
    await redis.hset(api.WORKERS_KEY, "back", stale)

    class BeatsAgainAfterTheRead(WorkerBeats):
        async def forget_silent(self, now: float) -> int:
            await self.redis.hset(api.WORKERS_KEY, "back", beat("back", now))
            return int(await self._forget(keys=[api.WORKERS_KEY], args=["back", stale]))

    assert await BeatsAgainAfterTheRead(redis).forget_silent(NOW) == 0
    assert "back" in await WorkerBeats(redis).live(NOW)
