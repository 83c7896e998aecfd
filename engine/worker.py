"""The engine worker loop: read jobs, batch compatible ones, run them, publish results, survive crashes.

One worker per GPU. Workers share the job streams through the ``engine`` consumer group. A worker holds
only the batch it runs: it looks at a window of waiting jobs, picks its next batch fairly (lane priority,
then users in turn), and hands the rest straight back for any worker to take. A worker whose heartbeat
stops has its jobs handed back by the next worker that notices; only runs that started count against a
job's attempts. A job's result is published at most once (a done marker is checked before running and
before publishing).
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
from dataclasses import dataclass, field

import redis.asyncio as aioredis
from redis.exceptions import RedisError

from engine import api
from engine.artifacts import ArtifactStore
from engine.batch_context import BatchContext
from engine.batcher import Batch, fair_order, next_batch, user_of
from engine.outcomes import Outcomes, delivered_job
from engine.queue import Delivery, JobQueue, short_reason
from engine.runner import BadInput, Cancelled, JobOutput, RunContext, StageRunner
from engine.settle import CANCELLED, Settler

log = logging.getLogger(__name__)


@dataclass
class WorkerConfig:
    max_batch: int = 8  # images per runner call
    # when a job arrives at an idle worker with others right behind it, wait this long for the rest
    gather_ms: int = 30
    block_ms: int = 200  # one blocking read (bounds how fast a stop or a handed-back job is seen)
    visibility_timeout_s: float = 10.0  # a worker silent this long (no heartbeat) loses its jobs to others
    lookahead: int = 32  # jobs considered when picking the next batch (fair turns need more than one batch)
    max_attempts: int = 3
    heartbeat_s: float = 2.0
    cancel_poll_s: float = 0.5  # at most one Redis check per this interval while a batch runs
    progress_interval_s: float = 0.25  # at most 4 progress messages a second per job
    device: str = "cpu"
    model: str = ""
    models: tuple[str, ...] = ()  # advertised in the heartbeat, so the bot can refuse a mistyped name
    families: dict[str, str] = field(default_factory=dict)  # model name -> family, advertised too
    loras: tuple[api.LoraOffer, ...] = ()


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
        self.load_seconds = 0.0  # model loading and warm-up, never charged to a job
        self.compile_seconds = 0.0
        self._inflight: list[Delivery] = []
        self._inflight_images = 0
        self._next_reclaim = 0.0
        self._served: dict[str, float] = {}  # user -> when a batch of theirs last started (fair turns)
        self._runner_thread: ThreadPoolExecutor | None = None
        self._stop: asyncio.Event | None = None
        self.settler = Settler(self.queue, self.outcomes)
        self._keys: dict[str, tuple[object, ...]] = {}

    def _runner_executor(self) -> ThreadPoolExecutor:
        """One thread for every runner call: torch.compile's CUDA graphs ("reduce-overhead") are recorded
        per thread, so a batch landing on another pool thread would record and hold them all again."""
        if self._runner_thread is None:
            self._runner_thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="engine-runner")
        return self._runner_thread

    # --- the loop -------------------------------------------------------------------------------

    async def run(self, stop: asyncio.Event) -> None:
        """Serve jobs until ``stop`` is set: the running batch is finished, the rest handed back at once.

        The models are loaded (and compiled and warmed up, with compile on) before the first heartbeat,
        so the bot never counts on a worker that cannot take work yet."""
        self._stop = stop
        await self.queue.ensure_groups()
        await self.warm_up()
        await self.beat()
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
            await self.settler.wait()
            beats.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await beats
            self.outcomes.close()
            with contextlib.suppress(RedisError, OSError):
                await self.queue.leave()
                await self.queue.forget_consumer_if_idle(self.worker_id)
            if self._runner_thread is not None:
                self._runner_thread.shutdown(wait=False)
                self._runner_thread = None

    async def warm_up(self) -> None:
        """Load (and with compile on, compile) what the runner serves, on the runner thread, metered apart
        from every job. A runner without ``warm_up`` loads lazily."""
        warm = getattr(self.runner, "warm_up", None)
        if warm is None:
            return
        before = self._overhead()
        started = time.monotonic()
        try:
            await asyncio.get_running_loop().run_in_executor(self._runner_executor(), warm)
        except Exception:  # the jobs that need what failed to load will fail with the reason
            log.exception("warm-up failed; models load on first use")
        load, compile_s = self._overhead_since(before)
        load = max(load, time.monotonic() - started - compile_s)  # all of the warm-up is overhead
        self.load_seconds += load
        self.compile_seconds += compile_s
        await self.queue.count_overhead(load, compile_s)
        log.info("warmed up in %.1f s (compile %.1f s)", load + compile_s, compile_s)

    async def run_once(self) -> int:
        """One iteration: hand back a silent worker's jobs, look at what waits, take and run the next
        batch. Returns how many waiting entries it looked at."""
        await self._reclaim_if_due()
        waiting = await self._gather()
        if not waiting:
            return 0
        ready = await self._screen(waiting)
        if not ready or (self._stop is not None and self._stop.is_set()):
            return len(waiting)
        ordered = fair_order(ready, delivered_job, self._lane_rank, self._served)
        batch, _rest = next_batch(ordered, delivered_job, self._key, self.config.max_batch)
        batch.items = await self.queue.claim(batch.items)  # another worker may have taken some first
        batch.images = _images(batch.items)
        if not batch.items:
            return len(waiting)
        try:
            await self._run_batch(batch)
        finally:
            self._inflight, self._inflight_images = [], 0
        return len(waiting)

    async def _reclaim_if_due(self) -> None:
        now = time.monotonic()
        if now < self._next_reclaim:
            return
        timeout = self.config.visibility_timeout_s
        self._next_reclaim = now + max(0.2, min(2.0, timeout / 4))
        live = await self.queue.live_workers(time.time(), timeout)
        moved = await self.queue.reclaim_silent(live | {self.worker_id}, int(timeout * 1000))
        if moved:
            log.warning("took back %d jobs from silent workers", moved)

    async def _gather(self) -> list[Delivery]:
        """Up to ``lookahead`` waiting jobs, new ones moved into the pool first; blocks only when none
        wait. Nothing is taken: the batch is claimed once chosen."""
        window = self.config.lookahead
        got = await self.queue.waiting(window)
        if len(got) < window and await self.queue.read_new(window - len(got), None):
            got = await self.queue.waiting(window)
        if got or not await self.queue.read_new(1, self.config.block_ms):
            return got
        # others arrived with the first job (one command, several jobs): let the rest of them land
        if await self.queue.read_new(window - 1, None) and self.config.gather_ms > 0:
            if _images(await self.queue.waiting(window)) < self.config.max_batch:
                await asyncio.sleep(self.config.gather_ms / 1000)
                await self.queue.read_new(window, None)
        return await self.queue.waiting(window)

    def _lane_rank(self, d: Delivery) -> int:
        return self.queue.lanes.index(d.lane) if d.lane in self.queue.lanes else len(self.queue.lanes)

    def _key(self, job: api.Job) -> tuple[object, ...]:
        return self._keys[job.job_id]

    # --- one set of waiting entries -------------------------------------------------------------

    async def _screen(self, waiting: list[Delivery]) -> list[Delivery]:
        """Settle the waiting entries that cannot run (unreadable, already done, out of attempts,
        cancelled, refused by ``group_key``), each by the one worker that claims it; the runnable rest,
        with their keys in ``self._keys`` (a second copy of a job waits until the first is done)."""
        readable = [d for d in waiting if d.job is not None]
        ids = [delivered_job(d).job_id for d in readable]
        starts = await self.queue.starts(ids)
        cancelled = await self.queue.cancelled(ids)
        done = await self.queue.done(ids)
        self._keys = {}
        settle: list[tuple[Delivery, str, str]] = []  # (entry, how, reason)
        ready: list[Delivery] = []
        for d in waiting:
            job = d.job
            if job is None:
                settle.append((d, "unreadable", ""))
            elif job.job_id in self._keys:
                continue
            elif job.job_id in done:
                await self.queue.ack(d)  # published before a crash, never acked
            elif starts.get(job.job_id, 0) >= self.config.max_attempts:
                d.attempts = starts[job.job_id]
                settle.append((d, "give up", ""))
            elif job.job_id in cancelled:
                settle.append((d, "fail", CANCELLED))
            else:
                try:
                    self._keys[job.job_id] = self.runner.group_key(job)
                    ready.append(d)
                except BadInput as exc:
                    settle.append((d, "fail", str(exc) or "bad input"))
                except Exception as exc:
                    log.exception("group_key failed for job %s", job.job_id)
                    settle.append((d, "fail", short_reason(exc)))
        mine = {id(d) for d in await self.queue.claim([d for d, _, _ in settle])}
        for d, how, reason in settle:
            if id(d) not in mine:
                continue
            if how == "unreadable":
                await self.outcomes.reject_unreadable(d)
            elif how == "give up":
                await self.outcomes.give_up(d)
            else:
                await self.outcomes.fail(d, reason)
        return ready

    async def _run_batch(self, batch: Batch[Delivery]) -> None:
        jobs = [delivered_job(d) for d in batch.items]
        self._inflight, self._inflight_images = list(batch.items), batch.images
        await self.queue.note_start(batch.items, f"worker {self.worker_id} stopped while running it")
        loop = asyncio.get_running_loop()
        for job in jobs:
            self._served[user_of(job)] = time.monotonic()
        bctx = BatchContext(
            jobs,
            loop,
            self.queue,
            self._publish_progress,
            progress_interval_s=self.config.progress_interval_s,
            cancel_poll_s=self.config.cancel_poll_s,
        )
        ctx = RunContext(load_artifact=self.store.get, on_step=bctx.on_step, is_cancelled=bctx.is_cancelled)
        self.runner_calls += 1
        outputs: list[JobOutput] = []
        batch_error: str | None = None
        before = self._overhead()
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
        self._inflight, self._inflight_images = [], 0
        load, compile_s = self._overhead_since(before)
        wall = max(0.0, time.monotonic() - started - load - compile_s)  # loading is never a job's cost
        if load or compile_s:
            self.load_seconds += load
            self.compile_seconds += compile_s
            await self.queue.count_overhead(load, compile_s)
        await bctx.drain()
        await self.queue.count_batch()
        self.settler.start(batch, outputs, batch_error, wall)

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
                held = self._inflight + self.settler.held
                if held:
                    await self.queue.keep_alive(held)
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
            families=dict(self.config.families),
            loras=list(self.config.loras),
            load_seconds=round(self.load_seconds, 3),
            compile_seconds=round(self.compile_seconds, 3),
        )
        await self.queue.beat(beat)

    def _overhead(self) -> tuple[float, float]:
        """The runner's seconds spent so far loading models and compiling them (0 when it doesn't say)."""
        spent = getattr(self.runner, "overhead_seconds", None)
        return spent() if spent is not None else (0.0, 0.0)

    def _overhead_since(self, before: tuple[float, float]) -> tuple[float, float]:
        load, compile_s = self._overhead()
        return max(0.0, load - before[0]), max(0.0, compile_s - before[1])


def _images(deliveries: list[Delivery]) -> int:
    return sum(max(1, len(d.job.seeds)) if d.job is not None else 1 for d in deliveries)


async def _wait(stop: asyncio.Event, seconds: float) -> None:
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), timeout=seconds)
