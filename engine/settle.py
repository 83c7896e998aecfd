"""Settling a finished batch: its images encoded and stored off the runner thread, its results published
in the order the batches ran, while the device already runs the next batch."""

from __future__ import annotations

import asyncio
import logging

from engine.batcher import Batch
from engine.outcomes import Outcomes, delivered_job, time_shares
from engine.queue import Delivery, JobQueue
from engine.runner import JobOutput

log = logging.getLogger(__name__)

CANCELLED = "cancelled"


class Settler:
    def __init__(self, queue: JobQueue, outcomes: Outcomes) -> None:
        self.queue = queue
        self.outcomes = outcomes
        self.held: list[Delivery] = []  # entries not yet published: the heartbeat keeps them ours
        self._last: asyncio.Task[None] | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    def start(self, batch: Batch[Delivery], outputs: list[JobOutput], error: str | None, wall: float) -> None:
        """Settle ``batch`` in the background; ``error`` fails all of it, ``wall`` is its device time."""
        self.held.extend(batch.items)
        task = asyncio.create_task(self._settle(batch, outputs, error, wall, after=self._last))
        self._last = task
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def wait(self) -> None:
        """Until every batch started so far is published."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    async def _settle(
        self,
        batch: Batch[Delivery],
        outputs: list[JobOutput],
        error: str | None,
        wall: float,
        after: asyncio.Task[None] | None,
    ) -> None:
        jobs = [delivered_job(d) for d in batch.items]
        by_id = {out.job_id: out for out in outputs}
        shares = time_shares(jobs, by_id, wall)
        try:
            stored: dict[str, list[str]] = {}
            if error is None:
                for output in outputs:
                    if output.error is None:
                        stored[output.job_id] = await self.outcomes.store_images(output)
            if after is not None:
                await asyncio.gather(after, return_exceptions=True)
            cancelled_now = await self.queue.cancelled([j.job_id for j in jobs])
            for d, job in zip(batch.items, jobs, strict=True):
                out = by_id.get(job.job_id)
                if error is not None:
                    reason: str | None = error
                elif job.job_id in cancelled_now:
                    reason = CANCELLED
                elif out is None:
                    reason = "the engine returned no image for this job"
                else:
                    reason = out.error
                if reason is not None or out is None:
                    await self.outcomes.fail(d, reason or "failed", shares[job.job_id], batch.images)
                    continue
                await self.outcomes.succeed(d, out, shares[job.job_id], batch.images, stored.get(job.job_id))
        except Exception:
            log.exception("publishing the results of %s failed", [j.job_id for j in jobs])
            raise
        finally:
            for d in batch.items:
                self.held.remove(d)
