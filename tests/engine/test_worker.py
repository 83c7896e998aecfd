"""The worker loop against a real Redis server: batching, lanes, cancellation, failures, dead letters.

Most tests use ``PaintRunner``, a deterministic stand-in for the GPU stages that renders real PNGs with
PIL, so they exercise the queue semantics; ``test_real_diffusers_batch_*`` runs the real stages on the
tiny offline models.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import io
import threading
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import redis.asyncio as aioredis
from PIL import Image

from engine import api
from engine.api import Job, JobKind, Result
from engine.artifacts import ArtifactStore
from engine.keys import RETURNED_CONSUMER
from engine.queue import attempt_key, starts_key
from engine.runner import BadInput, Cancelled, JobOutput, RunContext, StageImage
from engine.worker import Worker, WorkerConfig

pytestmark = pytest.mark.timeout(120)


def paint(prompt: str, seed: int, width: int, height: int) -> bytes:
    """A PNG that depends only on the prompt and the seed."""
    digest = hashlib.sha256(f"{prompt}|{seed}".encode()).digest()
    rng = np.random.default_rng(int.from_bytes(digest[:8], "little"))
    pixels = rng.integers(0, 256, size=(height, width, 3), dtype=np.uint8)
    buf = io.BytesIO()
    Image.fromarray(pixels).save(buf, format="PNG")
    return buf.getvalue()


class PaintRunner:
    """Groups by (model, size, steps); prompts containing "explode" make the whole call raise, "bad" makes
    that one job fail; model "missing" is refused by ``group_key``."""

    def __init__(self, steps: int = 3, step_delay: float = 0.0) -> None:
        self.steps = steps
        self.step_delay = step_delay
        self.calls: list[list[str]] = []
        self.steps_done: dict[str, int] = {}
        self._lock = threading.Lock()

    def group_key(self, job: Job) -> tuple[object, ...]:
        if job.model == "missing":
            raise BadInput("no model named 'missing'")
        return (job.model, job.width or 32, job.height or 32, job.steps or self.steps)

    def run(self, jobs: list[Job], ctx: RunContext) -> list[JobOutput]:
        with self._lock:
            self.calls.append([job.job_id for job in jobs])
        if any("explode" in job.prompt for job in jobs):
            raise RuntimeError("the device caught fire")
        total = jobs[0].steps or self.steps
        for step in range(1, total + 1):
            if self.step_delay:
                time.sleep(self.step_delay)
            for job in jobs:
                self.steps_done[job.job_id] = step
            ctx.on_step(step, total)
            if ctx.is_cancelled():
                raise Cancelled()
        outputs = []
        for job in jobs:
            if "bad" in job.prompt:
                outputs.append(JobOutput(job.job_id, error="the prompt was refused"))
                continue
            w, h = job.width or 32, job.height or 32
            images = [StageImage(paint(job.prompt, seed, w, h), seed, w, h) for seed in job.seeds]
            outputs.append(JobOutput(job.job_id, images, work_units=float(len(job.seeds) * w * h * total)))
        return outputs


def make_job(job_id: str, campaign: str = "c1", **kw: Any) -> Job:
    kw.setdefault("prompt", f"a lighthouse for {campaign}")
    return Job(job_id=job_id, campaign_id=campaign, kind=JobKind.DRAFT, **kw)


async def enqueue(redis: aioredis.Redis, job: Job) -> str:
    entry = await redis.xadd(api.jobs_stream(job.lane), api.encode(job))  # type: ignore[arg-type]
    return entry.decode() if isinstance(entry, bytes) else str(entry)


async def entries(redis: aioredis.Redis, stream: str) -> list[tuple[bytes, dict[bytes, bytes]]]:
    found: Any = await redis.xrange(stream)
    return list(found)


async def results(redis: aioredis.Redis) -> list[Result]:
    return [api.decode_result(fields) for _id, fields in await entries(redis, api.RESULTS_STREAM)]


async def until(check: Callable[[], Awaitable[bool]]) -> None:
    """Poll until ``check`` holds (the test's timeout bounds the wait)."""
    while True:
        if await check():
            return
        await asyncio.sleep(0.02)


async def wait_results(redis: aioredis.Redis, n: int) -> list[Result]:
    async def enough() -> bool:
        return len(await results(redis)) >= n

    await until(enough)
    return await results(redis)


async def pending(redis: aioredis.Redis) -> int:
    total = 0
    for lane in api.LANES:
        with contextlib.suppress(aioredis.ResponseError):
            total += int((await redis.xpending(api.jobs_stream(lane), api.ENGINE_GROUP))["pending"])
    return total


async def stats(redis: aioredis.Redis) -> dict[str, int]:
    raw = await redis.hgetall(api.STATS_KEY)
    return {(k.decode() if isinstance(k, bytes) else k): int(v) for k, v in raw.items()}


@contextlib.asynccontextmanager
async def running(
    redis: aioredis.Redis, runner: Any, store: ArtifactStore, **config: Any
) -> AsyncIterator[Worker]:
    config.setdefault("gather_ms", 20)
    config.setdefault("block_ms", 100)
    worker = Worker(redis, runner, store, WorkerConfig(**config))
    stop = asyncio.Event()
    task = asyncio.create_task(worker.run(stop))
    try:
        yield worker
    finally:
        stop.set()
        await task


@pytest.fixture
def store(tmp_path: Path) -> ArtifactStore:
    return ArtifactStore(tmp_path / "artifacts")


async def test_jobs_from_three_campaigns_run_as_one_batch(
    redis: aioredis.Redis, store: ArtifactStore
) -> None:
    runner = PaintRunner()
    jobs = [
        make_job("j-a", "camp-a", seeds=[1]),
        make_job("j-b", "camp-b", seeds=[2]),
        make_job("j-c", "camp-c", seeds=[3, 4]),
    ]
    for job in jobs:
        await enqueue(redis, job)
    async with running(redis, runner, store) as worker:
        got = {r.job_id: r for r in await wait_results(redis, 3)}

    assert runner.calls == [["j-a", "j-b", "j-c"]]
    assert all(r.ok and r.batch_size == 4 and r.worker == worker.worker_id for r in got.values())
    counters = await stats(redis)
    assert (counters["jobs"], counters["images"], counters["batches"]) == (3, 4, 1)
    assert "failed" not in counters
    # device time is split by work: two images cost twice one
    assert got["j-c"].device_seconds == pytest.approx(2 * got["j-a"].device_seconds)
    assert got["j-a"].device_seconds == pytest.approx(got["j-b"].device_seconds)
    for job in jobs:
        alone = PaintRunner().run([job], RunContext(load_artifact=store.get))[0]
        result = got[job.job_id]
        assert [img.seed for img in result.images] == job.seeds
        assert [store.get(img.artifact) for img in result.images] == [img.png for img in alone.images]
    assert await pending(redis) == 0


async def test_max_batch_caps_images_per_call(redis: aioredis.Redis, store: ArtifactStore) -> None:
    runner = PaintRunner()
    for i in range(5):
        await enqueue(redis, make_job(f"j{i}", f"camp{i}", seeds=[i, i + 10]))
    async with running(redis, runner, store, max_batch=4):
        await wait_results(redis, 5)
    assert all(sum(2 for _ in call) <= 4 for call in runner.calls)
    assert sorted(j for call in runner.calls for j in call) == [f"j{i}" for i in range(5)]
    assert (await stats(redis))["batches"] == len(runner.calls) >= 3


async def test_interactive_lane_is_served_before_scheduled(
    redis: aioredis.Redis, store: ArtifactStore
) -> None:
    runner = PaintRunner()
    await enqueue(redis, make_job("s1", "nightly", lane="scheduled"))
    await enqueue(redis, make_job("s2", "nightly", lane="scheduled"))
    await enqueue(redis, make_job("i1", "live-a"))
    await enqueue(redis, make_job("i2", "live-b"))
    async with running(redis, runner, store, max_batch=1):
        got = await wait_results(redis, 4)
    assert [r.job_id for r in got] == ["i1", "i2", "s1", "s2"]
    assert runner.calls == [["i1"], ["i2"], ["s1"], ["s2"]]


async def test_incompatible_interactive_batch_runs_first(redis: aioredis.Redis, store: ArtifactStore) -> None:
    runner = PaintRunner()
    await enqueue(redis, make_job("s1", "nightly", lane="scheduled", model="other"))
    await enqueue(redis, make_job("i1", "live"))
    async with running(redis, runner, store):
        await wait_results(redis, 2)
    assert runner.calls == [["i1"], ["s1"]]


async def test_cancelled_queued_job_is_skipped(redis: aioredis.Redis, store: ArtifactStore) -> None:
    runner = PaintRunner()
    await enqueue(redis, make_job("gone", "camp-a"))
    await enqueue(redis, make_job("kept", "camp-b"))
    await redis.set(api.cancel_key("gone"), "1", ex=600)
    async with running(redis, runner, store):
        got = {r.job_id: r for r in await wait_results(redis, 2)}
    assert not got["gone"].ok and got["gone"].error == "cancelled" and got["gone"].images == []
    assert got["kept"].ok
    assert runner.calls == [["kept"]]
    assert await pending(redis) == 0


async def test_cancel_interrupts_a_running_job(redis: aioredis.Redis, store: ArtifactStore) -> None:
    runner = PaintRunner(steps=400, step_delay=0.02)
    pubsub = redis.pubsub()
    await pubsub.subscribe(api.progress_channel("camp-a"))
    await enqueue(redis, make_job("long", "camp-a", steps=400))
    async with running(redis, runner, store):
        while True:
            msg = await pubsub.get_message(ignore_subscribe_messages=True, timeout=1.0)
            if msg is not None:
                break
        progress = api.Progress.model_validate_json(msg["data"])
        assert (progress.job_id, progress.campaign_id, progress.total) == ("long", "camp-a", 400)
        await redis.set(api.cancel_key("long"), "1", ex=600)
        (result,) = await wait_results(redis, 1)
    await pubsub.aclose()
    assert not result.ok and result.error == "cancelled"
    assert runner.steps_done["long"] < 400
    assert await pending(redis) == 0


async def test_failures_become_failed_results_and_the_worker_keeps_serving(
    redis: aioredis.Redis, store: ArtifactStore
) -> None:
    runner = PaintRunner()
    await enqueue(redis, make_job("boom", "camp-a", prompt="explode please", model="fragile"))
    await enqueue(redis, make_job("bad", "camp-b", prompt="a bad prompt"))
    await enqueue(redis, make_job("nomodel", "camp-c", model="missing"))
    await enqueue(redis, make_job("fine", "camp-d"))
    await redis.xadd(api.jobs_stream("interactive"), {api.PAYLOAD_FIELD: "not json at all"})
    await redis.xadd(
        api.jobs_stream("interactive"),
        {api.PAYLOAD_FIELD: '{"job_id": "half", "campaign_id": "camp-e", "kind": "draft", "seeds": "x"}'},
    )
    async with running(redis, runner, store):
        got = {r.job_id: r for r in await wait_results(redis, 5)}
        await enqueue(redis, make_job("after", "camp-f"))
        got.update({r.job_id: r for r in await wait_results(redis, 6)})

    assert got["boom"].error == "RuntimeError: the device caught fire"
    assert got["bad"].error == "the prompt was refused"
    assert got["nomodel"].error == "no model named 'missing'"
    assert got["half"].error is not None and got["half"].error.startswith("the engine could not read")
    assert not any(got[j].ok for j in ("boom", "bad", "nomodel", "half"))
    assert got["fine"].ok and got["after"].ok
    assert all("Traceback" not in (r.error or "") for r in got.values())
    dead = await entries(redis, api.DEAD_LETTER_STREAM)
    assert sorted(fields[b"data"] for _id, fields in dead) == sorted(
        [b"not json at all", b'{"job_id": "half", "campaign_id": "camp-e", "kind": "draft", "seeds": "x"}']
    )
    counters = await stats(redis)
    assert counters["failed"] == 4 and counters["jobs"] == 6
    assert await pending(redis) == 0


async def test_too_many_deliveries_go_to_the_dead_letter_stream(
    redis: aioredis.Redis, store: ArtifactStore
) -> None:
    runner = PaintRunner()
    worker = Worker(redis, runner, store, WorkerConfig(block_ms=100, gather_ms=0, max_attempts=3))
    await worker.queue.ensure_groups()
    stream = api.jobs_stream("interactive")
    third = await enqueue(redis, make_job("third-try", "camp-a"))
    fourth = await enqueue(redis, make_job("poison", "camp-b"))
    await redis.xreadgroup(api.ENGINE_GROUP, "ghost", {stream: ">"}, count=2)
    # as if earlier workers had died running these jobs twice (three times); the ghost has no heartbeat
    await redis.xclaim(stream, api.ENGINE_GROUP, "ghost", 0, [third, fourth], idle=10**7)
    await redis.set(starts_key("third-try"), 2)
    await redis.set(starts_key("poison"), 3)
    await redis.set(attempt_key("poison"), "worker ghost stopped while running it")

    stop = asyncio.Event()
    task = asyncio.create_task(worker.run(stop))
    got = {r.job_id: r for r in await wait_results(redis, 2)}
    stop.set()
    await task

    assert got["third-try"].ok and got["third-try"].attempts == 3
    assert not got["poison"].ok and got["poison"].attempts == 3
    assert got["poison"].error == "failed after 3 attempts: worker ghost stopped while running it"
    assert runner.calls == [["third-try"]]
    ((_id, fields),) = await entries(redis, api.DEAD_LETTER_STREAM)
    assert Job.model_validate_json(fields[b"data"]).job_id == "poison"
    assert fields[b"error"].startswith(b"failed after 3 attempts")
    assert await pending(redis) == 0


async def test_heartbeat_while_running_and_removed_on_stop(
    redis: aioredis.Redis, store: ArtifactStore
) -> None:
    runner = PaintRunner()
    models = ("tiny-sd", "tiny-sdxl")
    async with running(redis, runner, store, device="cpu", model="tiny-sd", models=models) as worker:
        await until(lambda: redis.hexists(api.WORKERS_KEY, worker.worker_id))  # type: ignore[arg-type]
        beat = api.WorkerBeat.model_validate_json(await redis.hget(api.WORKERS_KEY, worker.worker_id) or "")
        assert (beat.worker, beat.device, beat.model) == (worker.worker_id, "cpu", "tiny-sd")
        assert beat.models == ["tiny-sd", "tiny-sdxl"]  # what the bot checks a --model against
    assert not await redis.hexists(api.WORKERS_KEY, worker.worker_id)


async def test_real_diffusers_batch_matches_each_job_run_alone(
    redis: aioredis.Redis, store: ArtifactStore, tiny_registry: Any
) -> None:
    from engine.pipeline_runner import DiffusersRunner

    runner = DiffusersRunner(tiny_registry)
    calls: list[list[str]] = []
    real_run = runner.run

    def counting_run(jobs: list[Job], ctx: RunContext) -> list[JobOutput]:
        calls.append([job.job_id for job in jobs])
        return real_run(jobs, ctx)

    runner.run = counting_run  # type: ignore[method-assign]
    jobs = [
        make_job("d-a", "camp-a", prompt="a lighthouse at dusk", seeds=[11]),
        make_job("d-b", "camp-b", prompt="a red kite", seeds=[12, 13]),
        make_job("d-c", "camp-c", prompt="a bowl of ramen", seeds=[14]),
    ]
    for job in jobs:
        await enqueue(redis, job)
    async with running(redis, runner, store):
        got = {r.job_id: r for r in await wait_results(redis, 3)}

    assert calls == [["d-a", "d-b", "d-c"]]
    assert all(r.ok and r.batch_size == 4 for r in got.values()), got
    for job in jobs:
        (alone,) = real_run([job], RunContext(load_artifact=store.get))
        batched = [
            np.asarray(Image.open(io.BytesIO(store.get(img.artifact)))) for img in got[job.job_id].images
        ]
        single = [np.asarray(Image.open(io.BytesIO(img.png))) for img in alone.images]
        assert [img.seed for img in got[job.job_id].images] == job.seeds
        assert len(batched) == len(single) == len(job.seeds)
        for a, b in zip(batched, single, strict=True):
            assert a.shape == b.shape
            assert int(np.abs(a.astype(int) - b.astype(int)).max()) <= 1
    two = [np.asarray(Image.open(io.BytesIO(store.get(img.artifact)))) for img in got["d-b"].images]
    assert not np.array_equal(two[0], two[1])  # the seeds matter, so the comparison above means something


def test_worker_main_without_redis_says_so(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from bot.worker_cli import worker_main

    monkeypatch.delenv("REDIS_URL", raising=False)
    assert worker_main(["--data", str(tmp_path)], runner_factory=lambda settings: PaintRunner()) == 2


async def test_reclaim_walks_a_long_pending_list(redis: aioredis.Redis, store: ArtifactStore) -> None:
    worker = Worker(redis, PaintRunner(), store, WorkerConfig(visibility_timeout_s=0.0))
    await worker.queue.ensure_groups()
    for i in range(30):
        await enqueue(redis, make_job(f"p{i}", f"camp{i}"))
    stream = api.jobs_stream("interactive")
    await redis.xreadgroup(api.ENGINE_GROUP, "ghost", {stream: ">"}, count=30)
    assert await worker.queue.reclaim_silent({worker.worker_id}, 0, page=8) == 30
    waiting = await worker.queue.waiting(100)
    assert sorted(d.job.job_id for d in waiting if d.job is not None) == sorted(f"p{i}" for i in range(30))
    assert len(await worker.queue.claim(waiting[:8])) == 8
    assert len(await worker.queue.claim(waiting[:8])) == 0  # taken once
    assert len(await worker.queue.waiting(100)) == 22


async def test_finished_jobs_leave_the_job_stream(redis: aioredis.Redis, store: ArtifactStore) -> None:
    await enqueue(redis, make_job("j1", "camp-a"))
    await enqueue(redis, make_job("j2", "camp-b", model="missing"))
    async with running(redis, PaintRunner(), store):
        await wait_results(redis, 2)
    assert await pending(redis) == 0
    assert await redis.xlen(api.jobs_stream("interactive")) == 0


async def test_a_running_batch_stays_with_its_worker_and_the_job_behind_it_goes_to_an_idle_one(
    redis: aioredis.Redis, store: ArtifactStore
) -> None:
    first, second = PaintRunner(step_delay=0.2), PaintRunner()
    await enqueue(redis, make_job("long", "camp-a", steps=8))
    await enqueue(redis, make_job("short", "camp-b", steps=1))
    async with running(redis, first, store, visibility_timeout_s=0.6) as busy:
        await until(lambda: _started(first))
        async with running(redis, second, store, visibility_timeout_s=0.6) as idle:
            got = {r.job_id: r for r in await wait_results(redis, 2)}
    # the long batch outlives the timeout but its heartbeat keeps it; the short job waited for no one
    assert first.calls == [["long"]] and second.calls == [["short"]]
    assert got["long"].worker == busy.worker_id and got["short"].worker == idle.worker_id
    assert got["long"].attempts == got["short"].attempts == 1


async def _started(runner: PaintRunner) -> bool:
    return bool(runner.calls)


async def test_every_batch_runs_on_the_one_runner_thread(redis: aioredis.Redis, store: ArtifactStore) -> None:
    """CUDA graphs are recorded per thread, so runner calls must not hop between pool threads."""
    runner_threads: set[int] = set()
    other_threads: set[int] = set()

    class ThreadRunner(PaintRunner):
        def run(self, jobs: list[Job], ctx: RunContext) -> list[JobOutput]:
            runner_threads.add(threading.get_ident())
            return super().run(jobs, ctx)

    put = store.put

    def tracked_put(data: bytes) -> str:
        other_threads.add(threading.get_ident())
        return put(data)

    store.put = tracked_put  # type: ignore[method-assign]
    runner = ThreadRunner()
    async with running(redis, runner, store):
        for i in range(3):  # three sizes: three runner calls
            await enqueue(redis, make_job(f"t{i}", campaign=f"c{i}", width=16 + 8 * i))
            await wait_results(redis, i + 1)
    assert len(runner.calls) == 3
    assert len(runner_threads) == 1
    assert not runner_threads & other_threads


async def _held_by_workers(redis: aioredis.Redis) -> dict[str, int]:
    """Jobs each worker holds (entries pending under its name), handed-back ones left out."""
    held: dict[str, int] = {}
    for lane in api.LANES:
        with contextlib.suppress(aioredis.ResponseError):
            for info in await redis.xinfo_consumers(api.jobs_stream(lane), api.ENGINE_GROUP):
                name = info["name"].decode() if isinstance(info["name"], bytes) else info["name"]
                if name != RETURNED_CONSUMER:
                    held[name] = held.get(name, 0) + int(info["pending"])
    return held


async def test_two_workers_share_a_backlog_and_neither_hoards(
    redis: aioredis.Redis, store: ArtifactStore
) -> None:
    first, second = PaintRunner(step_delay=0.05), PaintRunner(step_delay=0.05)
    for i in range(8):  # eight grids of eight: one batch each
        await enqueue(redis, make_job(f"g{i}", f"camp{i}", seeds=list(range(i * 8, i * 8 + 8))))
    most_held = 0
    async with running(redis, first, store, max_batch=8), running(redis, second, store, max_batch=8):
        while len(await results(redis)) < 8:
            most_held = max([most_held, *(await _held_by_workers(redis)).values()])
            await asyncio.sleep(0.01)
    assert all(len(call) == 1 for call in first.calls + second.calls)
    assert sorted(j for call in first.calls + second.calls for j in call) == [f"g{i}" for i in range(8)]
    assert len(first.calls) >= 2 and len(second.calls) >= 2  # both worked through the backlog
    # a worker holds its running batch and, while publishing it, the one before: never the backlog
    assert most_held <= 2
    assert all(r.attempts == 1 for r in await results(redis))
    assert await pending(redis) == 0


async def test_users_take_turns_within_a_lane(redis: aioredis.Redis, store: ArtifactStore) -> None:
    runner = PaintRunner()
    for i in range(8):
        await enqueue(redis, make_job(f"a{i}", f"camp-a{i}", user="ana", seeds=list(range(8))))
    await enqueue(redis, make_job("b0", "camp-b", user="ben", seeds=list(range(8))))
    async with running(redis, runner, store, max_batch=8):
        await wait_results(redis, 9)
    assert ["b0"] in runner.calls[:2]
    assert [j for call in runner.calls for j in call if j.startswith("a")] == [f"a{i}" for i in range(8)]


async def test_a_lone_job_does_not_wait_for_company(redis: aioredis.Redis, store: ArtifactStore) -> None:
    runner = PaintRunner()
    async with running(redis, runner, store, gather_ms=5_000, block_ms=50):
        await asyncio.sleep(0.2)  # the worker is idle, blocked on the empty stream
        started = time.monotonic()
        await enqueue(redis, make_job("alone", "camp-a"))
        await wait_results(redis, 1)
        took = time.monotonic() - started
    assert took < 5.0  # the 5 s gather wait applies only when other jobs arrive with the first
    assert runner.calls == [["alone"]]


async def test_stop_hands_back_what_did_not_start(redis: aioredis.Redis, store: ArtifactStore) -> None:
    runner = PaintRunner(step_delay=0.1)
    await enqueue(redis, make_job("running", "camp-a", model="m1", steps=5))
    await enqueue(redis, make_job("waiting", "camp-b", model="m2"))
    async with running(redis, runner, store) as worker:
        await until(lambda: _started(runner))
    assert runner.calls == [["running"]]
    assert [r.job_id for r in await results(redis)] == ["running"]
    assert (await _held_by_workers(redis)).get(worker.worker_id, 0) == 0
    rows = await redis.xpending_range(api.jobs_stream("interactive"), api.ENGINE_GROUP, "-", "+", 10)
    assert [row["consumer"] for row in rows] == [RETURNED_CONSUMER.encode()]
    async with running(redis, PaintRunner(), store):
        (_, later) = await wait_results(redis, 2)
    assert later.job_id == "waiting" and later.ok and later.attempts == 1


class LoadingRunner(PaintRunner):
    """Loads its model (a sleep, metered as loading) on first use, or up front in ``warm_up``."""

    def __init__(self, load_s: float) -> None:
        super().__init__()
        self.load_s = load_s
        self.loaded = False
        self.load_seconds = 0.0
        self.threads: set[int] = set()

    def overhead_seconds(self) -> tuple[float, float]:
        return self.load_seconds, 0.0

    def _load(self) -> None:
        self.threads.add(threading.get_ident())
        if not self.loaded:
            time.sleep(self.load_s)
            self.load_seconds += self.load_s
            self.loaded = True

    def warm_up(self) -> None:
        self._load()

    def run(self, jobs: list[Job], ctx: RunContext) -> list[JobOutput]:
        self._load()
        return super().run(jobs, ctx)


async def test_loading_a_model_is_never_charged_to_a_job(redis: aioredis.Redis, store: ArtifactStore) -> None:
    runner = LoadingRunner(load_s=0.5)
    runner.warm_up = None  # type: ignore[assignment,method-assign]  # loads lazily, inside the first batch
    await enqueue(redis, make_job("first", "camp-a"))
    async with running(redis, runner, store) as worker:
        (result,) = await wait_results(redis, 1)
    assert result.ok and result.device_seconds < 0.5
    assert (await stats(redis))["load_ms"] >= 500 and worker.load_seconds >= 0.5


async def test_warm_up_runs_on_the_runner_thread_before_the_first_heartbeat(
    redis: aioredis.Redis, store: ArtifactStore
) -> None:
    runner = LoadingRunner(load_s=0.3)
    async with running(redis, runner, store) as worker:
        await until(lambda: redis.hexists(api.WORKERS_KEY, worker.worker_id))  # type: ignore[arg-type]
        assert runner.loaded  # the worker advertised itself only once its model was ready
        beat = api.WorkerBeat.model_validate_json(await redis.hget(api.WORKERS_KEY, worker.worker_id) or "")
        assert beat.load_seconds >= 0.3 and beat.compile_seconds == 0.0
        await enqueue(redis, make_job("j", "camp-a"))
        (result,) = await wait_results(redis, 1)
    assert result.ok and result.device_seconds < 0.3
    assert len(runner.threads) == 1  # loaded on the thread that runs the batches
    assert (await stats(redis))["load_ms"] >= 300
