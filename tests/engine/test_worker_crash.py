"""Crash safety: a worker killed with SIGKILL mid-job, a crash between publishing and acking, SIGTERM.

The worker under test runs as a real child process (this file, run as a script, calls ``worker_main``
with a slow deterministic runner that renders PNGs with PIL).
"""

from __future__ import annotations

import asyncio
import hashlib
import io
import os
import signal
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import redis.asyncio as aioredis
from PIL import Image

from engine import api
from engine.api import Job, JobKind, Result
from engine.artifacts import ArtifactStore
from engine.keys import RETURNED_CONSUMER, starts_key
from engine.queue import JobQueue, done_key
from engine.runner import JobOutput, RunContext, StageImage
from engine.worker import Worker, WorkerConfig

ROOT = Path(__file__).resolve().parents[2]


class SlowRunner:
    def __init__(self, steps: int, step_delay: float) -> None:
        self.steps = steps
        self.step_delay = step_delay
        self.calls: list[list[str]] = []

    def group_key(self, job: Job) -> tuple[object, ...]:
        return (job.model,)

    def run(self, jobs: list[Job], ctx: RunContext) -> list[JobOutput]:
        self.calls.append([job.job_id for job in jobs])
        for step in range(1, self.steps + 1):
            time.sleep(self.step_delay)
            ctx.on_step(step, self.steps)
        return [
            JobOutput(job.job_id, [StageImage(_paint(job.prompt, seed), seed, 16, 16) for seed in job.seeds])
            for job in jobs
        ]


def _paint(prompt: str, seed: int) -> bytes:
    digest = hashlib.sha256(f"{prompt}|{seed}".encode()).digest()
    rng = np.random.default_rng(int.from_bytes(digest[:8], "little"))
    buf = io.BytesIO()
    Image.fromarray(rng.integers(0, 256, size=(16, 16, 3), dtype=np.uint8)).save(buf, format="PNG")
    return buf.getvalue()


def _job(job_id: str) -> Job:
    return Job(
        job_id=job_id, campaign_id=f"camp-{job_id}", kind=JobKind.DRAFT, prompt="a red kite", seeds=[7]
    )


async def _results(redis: aioredis.Redis) -> list[Result]:
    found: Any = await redis.xrange(api.RESULTS_STREAM)
    return [api.decode_result(fields) for _id, fields in found]


async def _until(check: Callable[[], Awaitable[bool]]) -> None:
    while True:
        if await check():
            return
        await asyncio.sleep(0.05)


async def _pending(redis: aioredis.Redis) -> int:
    info = await redis.xpending(api.jobs_stream("interactive"), api.ENGINE_GROUP)
    return int(info["pending"])


def _spawn(url: str, data: Path, steps: int) -> subprocess.Popen[bytes]:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "SLOW_STEPS": str(steps)}
    return subprocess.Popen(
        [sys.executable, __file__, "--redis", url, "--data", str(data), "--log-level", "WARNING"],
        cwd=ROOT,
        env=env,
    )


async def _first_progress(redis: aioredis.Redis, campaign: str, proc: subprocess.Popen[bytes]) -> None:
    pubsub = redis.pubsub()
    await pubsub.subscribe(api.progress_channel(campaign))
    try:
        while await pubsub.get_message(ignore_subscribe_messages=True, timeout=1.0) is None:
            assert proc.poll() is None, "the worker process exited early"
    finally:
        await pubsub.aclose()


async def _enqueue(redis: aioredis.Redis, job: Job) -> None:
    await JobQueue(redis, "test").ensure_groups()
    await redis.xadd(api.jobs_stream(job.lane), api.encode(job))  # type: ignore[arg-type]


@pytest.mark.timeout(180)
async def test_kill_9_mid_job_then_another_worker_completes_it_once(
    redis: aioredis.Redis, redis_server: object, tmp_path: Path
) -> None:
    data = tmp_path / "data"
    job = _job("kite")
    await _enqueue(redis, job)
    proc = _spawn(redis_server.url, data, steps=10_000)  # type: ignore[attr-defined]
    try:
        await _first_progress(redis, job.campaign_id, proc)
        beats: list[bytes] = await redis.hkeys(api.WORKERS_KEY)  # type: ignore[assignment]
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == -signal.SIGKILL
    assert await _results(redis) == [] and await _pending(redis) == 1
    (dead_id,) = [b.decode() for b in beats]

    store = ArtifactStore(data / "artifacts")
    runner = SlowRunner(steps=2, step_delay=0.0)
    worker = Worker(redis, runner, store, WorkerConfig(visibility_timeout_s=1.0, block_ms=100, gather_ms=0))
    stop = asyncio.Event()
    task = asyncio.create_task(worker.run(stop))

    async def settled() -> bool:
        return bool(await _results(redis)) and not await _pending(redis)

    await _until(settled)
    stop.set()
    await task

    mine = [r for r in await _results(redis) if r.job_id == "kite"]
    assert len(mine) == 1
    (result,) = mine
    assert result.ok and result.attempts == 2 and result.worker == worker.worker_id != dead_id
    assert runner.calls == [["kite"]]
    (image,) = result.images
    assert store.get(image.artifact) == _paint("a red kite", 7)


@pytest.mark.timeout(60)
async def test_result_published_before_a_crash_is_acked_not_redone(
    redis: aioredis.Redis, tmp_path: Path
) -> None:
    job = _job("twice")
    await _enqueue(redis, job)
    stream = api.jobs_stream("interactive")
    read: Any = await redis.xreadgroup(api.ENGINE_GROUP, "ghost", {stream: ">"}, count=1)
    ((_s, ((entry, _f),)),) = read
    # the ghost worker published the result, then died before XACK
    earlier = Result(job_id="twice", campaign_id=job.campaign_id, kind=job.kind, ok=True, worker="ghost")
    await redis.xadd(api.RESULTS_STREAM, api.encode(earlier))  # type: ignore[arg-type]
    await redis.set(done_key("twice"), "ghost", ex=600)
    await redis.xclaim(stream, api.ENGINE_GROUP, "ghost", 0, [entry], idle=10**7)

    runner = SlowRunner(steps=1, step_delay=0.0)
    worker = Worker(redis, runner, ArtifactStore(tmp_path / "a"), WorkerConfig(block_ms=100, gather_ms=0))
    stop = asyncio.Event()
    task = asyncio.create_task(worker.run(stop))

    async def acked() -> bool:
        return not await _pending(redis)

    await _until(acked)
    stop.set()
    await task

    assert [r.worker for r in await _results(redis)] == ["ghost"]
    assert runner.calls == []


@pytest.mark.timeout(120)
async def test_sigterm_finishes_the_running_batch_then_stops(
    redis: aioredis.Redis, redis_server: object, tmp_path: Path
) -> None:
    data = tmp_path / "data"
    job = _job("calm")
    await _enqueue(redis, job)
    proc = _spawn(redis_server.url, data, steps=40)  # type: ignore[attr-defined]
    try:
        await _first_progress(redis, job.campaign_id, proc)
        proc.send_signal(signal.SIGTERM)
        code = await asyncio.to_thread(proc.wait)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert code == 0
    (result,) = await _results(redis)
    assert result.ok and result.job_id == "calm"
    assert ArtifactStore(data / "artifacts").exists(result.images[0].artifact)
    assert await _pending(redis) == 0
    assert await redis.hlen(api.WORKERS_KEY) == 0


def _job_for(job_id: str, model: str) -> Job:
    return _job(job_id).model_copy(update={"model": model})


async def _consumers(redis: aioredis.Redis) -> dict[str, int]:
    infos = await redis.xinfo_consumers(api.jobs_stream("interactive"), api.ENGINE_GROUP)
    return {
        (i["name"].decode() if isinstance(i["name"], bytes) else i["name"]): int(i["pending"]) for i in infos
    }


@pytest.mark.timeout(180)
async def test_a_killed_workers_unstarted_jobs_keep_their_attempts_and_resume_at_once(
    redis: aioredis.Redis, redis_server: object, tmp_path: Path
) -> None:
    data = tmp_path / "data"
    for job_id, model in (("started", "m1"), ("next", "m2"), ("last", "m3")):  # three batches
        await _enqueue(redis, _job_for(job_id, model))
    proc = _spawn(redis_server.url, data, steps=10_000)  # type: ignore[attr-defined]
    try:
        await _first_progress(redis, "camp-started", proc)
        (dead_id,) = [b.decode() for b in await redis.hkeys(api.WORKERS_KEY)]  # type: ignore[union-attr]
        assert (await _consumers(redis)).get(dead_id) == 1  # it holds only the job it runs
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    killed_at = time.monotonic()

    timeout = 1.0
    runner = SlowRunner(steps=2, step_delay=0.0)
    config = WorkerConfig(visibility_timeout_s=timeout, block_ms=100, gather_ms=0)
    worker = Worker(redis, runner, ArtifactStore(data / "artifacts"), config)
    stop = asyncio.Event()
    task = asyncio.create_task(worker.run(stop))

    async def all_done() -> bool:
        return len(await _results(redis)) == 3 and not await _pending(redis)

    await _until(all_done)
    took = time.monotonic() - killed_at
    stop.set()
    await task

    got = {r.job_id: r for r in await _results(redis)}
    assert all(r.ok and r.worker == worker.worker_id for r in got.values())
    assert got["next"].attempts == got["last"].attempts == 1  # never started, so no attempt was used
    assert got["started"].attempts == 2
    # the dead worker's job came back once its heartbeat was older than the timeout, not after 60 s;
    # the bound allows for one batch, the reclaim tick and a slow shared machine
    assert took < timeout + 5.0
    assert dead_id not in await _consumers(redis) or (await _consumers(redis))[dead_id] == 0


@pytest.mark.timeout(120)
async def test_sigterm_hands_back_the_jobs_it_has_not_started(
    redis: aioredis.Redis, redis_server: object, tmp_path: Path
) -> None:
    data = tmp_path / "data"
    await _enqueue(redis, _job_for("calm", "m1"))
    await _enqueue(redis, _job_for("queued", "m2"))
    proc = _spawn(redis_server.url, data, steps=40)  # type: ignore[attr-defined]
    try:
        await _first_progress(redis, "camp-calm", proc)
        (worker_id,) = [b.decode() for b in await redis.hkeys(api.WORKERS_KEY)]  # type: ignore[union-attr]
        asked = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        code = await asyncio.to_thread(proc.wait)
        took = time.monotonic() - asked
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert code == 0 and took < 15.0  # one batch of 40 x 50 ms, well before `up` would SIGKILL it
    assert [r.job_id for r in await _results(redis)] == ["calm"]
    consumers = await _consumers(redis)
    assert worker_id not in consumers  # its name left the group with nothing pending
    assert consumers.get(RETURNED_CONSUMER) == 1  # "queued" waits for any worker, at once
    assert await redis.get(starts_key("queued")) is None


if __name__ == "__main__":
    from bot.worker_cli import worker_main

    steps = int(os.environ.get("SLOW_STEPS", "40"))
    sys.exit(worker_main(sys.argv[1:], runner_factory=lambda settings: SlowRunner(steps, 0.05)))
