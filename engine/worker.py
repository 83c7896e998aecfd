"""The engine worker loop: read jobs, batch compatible ones, run them, publish results, survive crashes.

One worker per GPU. Workers share the job streams through the ``engine`` consumer group; entries a
dead worker left pending are reclaimed after a visibility timeout, and a job's result is published at
most once (a done marker is checked before running and before publishing).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import secrets
import socket
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import redis.asyncio as aioredis
from redis.exceptions import RedisError

from engine import api
from engine.artifacts import ArtifactStore
from engine.batch_context import BatchContext
from engine.batcher import Batch, make_batches
from engine.outcomes import Outcomes, delivered_job, time_shares
from engine.queue import Delivery, JobQueue, short_reason
from engine.runner import BadInput, Cancelled, JobOutput, RunContext, StageRunner

log = logging.getLogger(__name__)

CANCELLED = "cancelled"


@dataclass
class WorkerConfig:
    max_batch: int = 8  # images per runner call
    gather_ms: int = 30  # after the first job arrives, wait this long for others to join its batch
    block_ms: int = 500  # how long one blocking read waits (also bounds how fast a stop is noticed)
    visibility_timeout_s: float = 60.0  # a pending entry idle this long is taken over by another worker
    max_attempts: int = 3
    heartbeat_s: float = 2.0
    cancel_poll_s: float = 0.5  # at most one Redis check per this interval while a batch runs
    progress_interval_s: float = 0.25  # at most 4 progress messages a second per job
    device: str = "cpu"
    model: str = ""
    models: tuple[str, ...] = ()  # advertised in the heartbeat, so the bot can refuse a mistyped name


def make_worker_id() -> str:
    return f"{socket.gethostname()}-{os.getpid()}-{secrets.token_hex(3)}"


class Worker:
    def __init__(
        self,
        redis: aioredis.Redis,
        runner: StageRunner,
        store: ArtifactStore,
        config: WorkerConfig | None = None,
        worker_id: str | None = None,
    ) -> None:
        self.config = config or WorkerConfig()
        self.worker_id = worker_id or make_worker_id()
        self.redis = redis
        self.runner = runner
        self.store = store
        self.queue = JobQueue(redis, self.worker_id)
        self.outcomes = Outcomes(self.queue, store, self.worker_id, self.config.max_attempts)
        self.runner_calls = 0
        self._inflight: list[Delivery] = []
        self._inflight_images = 0
        self._held: list[Delivery] = []  # read and not yet finished: the running batch and those after it
        self._next_reclaim = 0.0
        self._runner_thread: ThreadPoolExecutor | None = None

    def _runner_executor(self) -> ThreadPoolExecutor:
        """One thread for every runner call: torch.compile's CUDA graphs ("reduce-overhead") are recorded
        per thread, so a batch landing on another pool thread would record and hold them all again."""
        if self._runner_thread is None:
            self._runner_thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="engine-runner")
        return self._runner_thread

    # --- the loop -------------------------------------------------------------------------------

    async def run(self, stop: asyncio.Event) -> None:
        """Serve jobs until ``stop`` is set; a batch already running is finished first."""
        await self.queue.ensure_groups()
        beats = asyncio.create_task(self._heartbeat(stop))
        try:
            while not stop.is_set():
                try:
                    await self.run_once()
                except (RedisError, OSError):
                    log.warning("redis trouble; retrying", exc_info=True)
                    await _wait(stop, 1.0)
                except Exception:
                    log.exception("worker iteration failed; continuing")
                    await _wait(stop, 1.0)
        finally:
            beats.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await beats
            with contextlib.suppress(RedisError, OSError):
                await self.queue.leave()
            if self._runner_thread is not None:
                self._runner_thread.shutdown(wait=False)
                self._runner_thread = None

    async def run_once(self) -> int:
        """One iteration: reclaim, gather, run. Returns how many entries it handled."""
        deliveries: list[Delivery] = []
        now = time.monotonic()
        if now >= self._next_reclaim:
            min_idle_ms = int(self.config.visibility_timeout_s * 1000)
            deliveries += await self.queue.reclaim(min_idle_ms, count=self.config.max_batch)
            self._next_reclaim = now + max(0.2, min(5.0, self.config.visibility_timeout_s / 2))
        deliveries += await self._gather(deliveries)
        if deliveries:
            await self._handle(deliveries)
        return len(deliveries)

    async def _gather(self, have: list[Delivery]) -> list[Delivery]:
        got = await self._fill(have, block_ms=None)
        if not got and not have:
            got = await self.queue.read(self.queue.lanes, 1, self.config.block_ms)
        if (got or have) and self.config.gather_ms > 0 and _images(have + got) < self.config.max_batch:
            await asyncio.sleep(self.config.gather_ms / 1000)
            got += await self._fill(have + got, block_ms=None)
        return got

    async def _fill(self, have: list[Delivery], block_ms: int | None) -> list[Delivery]:
        """Read lane by lane in priority order until the batch has ``max_batch`` images."""
        got: list[Delivery] = []
        for lane in self.queue.lanes:
            room = self.config.max_batch - _images(have + got)
            if room <= 0:
                break
            got += await self.queue.read((lane,), room, block_ms)
        return got

    # --- one set of read entries ----------------------------------------------------------------

    async def _handle(self, deliveries: list[Delivery]) -> None:
        runnable: list[Delivery] = []
        seen: set[str] = set()
        duplicates: list[Delivery] = []
        for d in deliveries:
            if d.job is None:
                await self.outcomes.reject_unreadable(d)
            elif d.job.job_id in seen:
                duplicates.append(d)
            elif await self.queue.is_done(d.job.job_id):
                await self.queue.ack(d)  # published before a crash, never acked
            elif d.attempts > self.config.max_attempts:
                await self.outcomes.give_up(d)
            else:
                seen.add(d.job.job_id)
                runnable.append(d)

        cancelled = await self.queue.cancelled([delivered_job(d).job_id for d in runnable])
        keys: dict[str, tuple[object, ...]] = {}
        ready: list[Delivery] = []
        for d in runnable:
            job = delivered_job(d)
            if job.job_id in cancelled:
                await self.outcomes.fail(d, CANCELLED)
                continue
            try:
                keys[job.job_id] = self.runner.group_key(job)
            except BadInput as exc:
                await self.outcomes.fail(d, str(exc) or "bad input")
                continue
            except Exception as exc:
                log.exception("group_key failed for job %s", job.job_id)
                await self.outcomes.fail(d, short_reason(exc))
                continue
            ready.append(d)

        batches = make_batches(ready, delivered_job, lambda job: keys[job.job_id], self.config.max_batch)
        self._held = list(ready)
        try:
            for batch in batches:
                await self._run_batch(batch)
        finally:
            self._held = []
        for d in duplicates:  # the same job enqueued twice: ack the copy once the first is published
            if await self.queue.is_done(delivered_job(d).job_id):
                await self.queue.ack(d)

    async def _run_batch(self, batch: Batch[Delivery]) -> None:
        jobs = [delivered_job(d) for d in batch.items]
        await self.queue.note_attempt(jobs, f"worker {self.worker_id} stopped while running it")
        loop = asyncio.get_running_loop()
        bctx = BatchContext(
            jobs,
            loop,
            self.queue,
            self._publish_progress,
            progress_interval_s=self.config.progress_interval_s,
            cancel_poll_s=self.config.cancel_poll_s,
        )
        ctx = RunContext(load_artifact=self.store.get, on_step=bctx.on_step, is_cancelled=bctx.is_cancelled)
        self._inflight, self._inflight_images = list(batch.items), batch.images
        self.runner_calls += 1
        outputs: list[JobOutput] = []
        batch_error: str | None = None
        started = time.monotonic()
        try:
            outputs = await loop.run_in_executor(self._runner_executor(), self.runner.run, jobs, ctx)
        except Cancelled:
            batch_error = CANCELLED
        except BadInput as exc:
            batch_error = str(exc) or "bad input"
        except Exception as exc:
            log.exception("batch of %d jobs failed: %s", len(jobs), [j.job_id for j in jobs])
            batch_error = short_reason(exc)
        wall = time.monotonic() - started
        await bctx.drain()
        await self.queue.count_batch()

        by_id = {out.job_id: out for out in outputs or []}
        shares = time_shares(jobs, by_id, wall)
        cancelled_now = await self.queue.cancelled([j.job_id for j in jobs])
        try:
            for d, job in zip(batch.items, jobs, strict=True):
                out = by_id.get(job.job_id)
                if batch_error is not None:
                    reason: str | None = batch_error
                elif job.job_id in cancelled_now:
                    reason = CANCELLED
                elif out is None:
                    reason = "the engine returned no image for this job"
                else:
                    reason = out.error
                if reason is not None or out is None:
                    await self.outcomes.fail(d, reason or "failed", shares[job.job_id], batch.images)
                    continue
                await self.outcomes.succeed(d, out, shares[job.job_id], batch.images)
        finally:
            self._inflight, self._inflight_images = [], 0

    # --- background -----------------------------------------------------------------------------

    async def _publish_progress(self, campaign_id: str, msg: api.Progress) -> None:
        try:
            await self.queue.progress(campaign_id, msg)
        except (RedisError, OSError):
            log.debug("progress publish failed", exc_info=True)

    async def _heartbeat(self, stop: asyncio.Event) -> None:
        tick = max(0.1, min(self.config.heartbeat_s, self.config.visibility_timeout_s / 3))
        while not stop.is_set():
            try:
                await self.beat()
                if self._held:
                    await self.queue.keep_alive(list(self._held))
            except (RedisError, OSError):
                log.debug("heartbeat failed", exc_info=True)
            await _wait(stop, tick)

    async def beat(self) -> None:
        beat = api.WorkerBeat(
            worker=self.worker_id,
            device=self.config.device,
            model=self.config.model,
            at=time.time(),
            busy=bool(self._inflight),
            batch_size=self._inflight_images,
            models=list(self.config.models),
        )
        await self.queue.beat(beat)


def _images(deliveries: list[Delivery]) -> int:
    return sum(max(1, len(d.job.seeds)) if d.job is not None else 1 for d in deliveries)


async def _wait(stop: asyncio.Event, seconds: float) -> None:
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), timeout=seconds)
