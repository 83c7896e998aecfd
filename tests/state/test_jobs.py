from __future__ import annotations

import asyncio

import pytest
import redis.asyncio as aioredis

from bot.usecases.jobs import JobClient, ResultConsumer
from engine import api
from engine.api import Job, JobKind, Result


def result(job_id: str) -> Result:
    return Result(job_id=job_id, campaign_id="camp", kind=JobKind.DRAFT, ok=True)


async def pending_count(redis: aioredis.Redis) -> int:
    info = await redis.xpending(api.RESULTS_STREAM, api.BOT_GROUP)
    return int(info["pending"])


async def test_enqueue_and_cancel(redis: aioredis.Redis) -> None:
    jobs = JobClient(redis)
    job = Job(job_id="camp.j1", campaign_id="camp", kind=JobKind.DRAFT, prompt="fox", seeds=[1, 2])
    await jobs.enqueue(job)
    await jobs.enqueue(job.model_copy(update={"job_id": "camp.j2", "lane": "scheduled"}))
    entries: list[tuple[bytes, dict[bytes, bytes]]] = await redis.xrange(api.jobs_stream("interactive"))  # type: ignore[assignment]
    assert [api.decode_job(fields) for _, fields in entries] == [job]
    assert await redis.xlen(api.jobs_stream("scheduled")) == 1
    await jobs.cancel(["camp.j1", "camp.j2"])
    assert await redis.exists(api.cancel_key("camp.j1"), api.cancel_key("camp.j2")) == 2
    assert await redis.ttl(api.cancel_key("camp.j1")) > 0


async def test_results_are_acknowledged_only_after_the_handler_succeeded(redis: aioredis.Redis) -> None:
    consumer = ResultConsumer(redis, "bot-a")
    await consumer.ensure_group()
    await redis.xadd(api.RESULTS_STREAM, api.encode(result("j1")))  # type: ignore[arg-type]
    await redis.xadd(api.RESULTS_STREAM, api.encode(result("j2")))  # type: ignore[arg-type]
    handled: list[str] = []

    async def flaky(r: Result) -> None:
        if r.job_id == "j2" and "j2" not in handled:
            handled.append("j2")
            raise RuntimeError("posting failed")
        handled.append(r.job_id)

    with pytest.raises(RuntimeError):
        await consumer.poll(flaky)
    assert handled == ["j1", "j2"]
    assert await pending_count(redis) == 1
    # restarted under the same name: its own unacknowledged entry comes first
    again = ResultConsumer(redis, "bot-a")
    assert await again.poll(flaky) == 1
    assert handled == ["j1", "j2", "j2"]
    assert await pending_count(redis) == 0
    assert await again.poll(flaky) == 0


async def test_a_dead_replicas_pending_results_are_claimed(redis: aioredis.Redis) -> None:
    dead = ResultConsumer(redis, "bot-dead")
    await dead.ensure_group()
    await redis.xadd(api.RESULTS_STREAM, api.encode(result("j1")))  # type: ignore[arg-type]

    async def crash(r: Result) -> None:
        raise RuntimeError("replica died")

    with pytest.raises(RuntimeError):
        await dead.poll(crash)
    got: list[str] = []

    async def keep(r: Result) -> None:
        got.append(r.job_id)

    patient = ResultConsumer(redis, "bot-live", claim_idle_ms=3_600_000)
    assert await patient.poll(keep) == 0  # not idle long enough to be taken from a live replica
    live = ResultConsumer(redis, "bot-live", claim_idle_ms=0)
    assert await live.poll(keep) == 1
    assert got == ["j1"]
    assert await pending_count(redis) == 0


async def test_unreadable_entries_are_dropped_and_the_iterator_acks_after_the_body(
    redis: aioredis.Redis,
) -> None:
    consumer = ResultConsumer(redis, "bot-a", block_ms=50)
    await consumer.ensure_group()
    await consumer.ensure_group()  # idempotent
    await redis.xadd(api.RESULTS_STREAM, {"data": "not json"})
    await redis.xadd(api.RESULTS_STREAM, api.encode(result("j1")))  # type: ignore[arg-type]
    stop = asyncio.Event()
    seen: list[tuple[str, int]] = []
    async for r in consumer.results(stop):
        seen.append((r.job_id, await pending_count(redis)))
        stop.set()
    assert seen == [("j1", 1)]
    assert await pending_count(redis) == 0


async def test_handled_results_leave_the_stream(redis: aioredis.Redis) -> None:
    consumer = ResultConsumer(redis, "bot-a")
    await consumer.ensure_group()
    for job_id in ("j1", "j2"):
        await redis.xadd(api.RESULTS_STREAM, api.encode(result(job_id)))  # type: ignore[arg-type]
    await redis.xadd(api.RESULTS_STREAM, {"data": "not json"})

    async def keep(r: Result) -> None:
        pass

    assert await consumer.poll(keep) == 2
    assert await redis.xlen(api.RESULTS_STREAM) == 0
