"""A job's outcome as a Result on the results stream: its images stored, failures explained, jobs that
ran out of attempts or can't be read dead-lettered, and a batch's device time shared among its jobs."""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor

from engine import api
from engine.api import ImageOut, Job, Result
from engine.artifacts import ArtifactStore
from engine.queue import Delivery, JobQueue, loose_ids
from engine.runner import JobOutput


def delivered_job(d: Delivery) -> Job:
    assert d.job is not None
    return d.job


class Outcomes:
    def __init__(self, queue: JobQueue, store: ArtifactStore, worker_id: str, max_attempts: int) -> None:
        self.queue = queue
        self.store = store
        self.worker_id = worker_id
        self.max_attempts = max_attempts
        self._encoders = ThreadPoolExecutor(max_workers=2, thread_name_prefix="engine-png")

    def close(self) -> None:
        self._encoders.shutdown(wait=False)

    async def store_images(self, out: JobOutput) -> list[str]:
        """Encode (where the stage left that to us) and store a job's images, off the runner thread."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(
            self._encoders, lambda: [self.store.put(img.png) for img in out.images]
        )

    async def succeed(
        self, d: Delivery, out: JobOutput, seconds: float, batch_size: int, keys: list[str] | None = None
    ) -> None:
        job = delivered_job(d)
        if keys is None:
            keys = await self.store_images(out)
        images = [
            ImageOut(artifact=key, seed=img.seed, width=img.width, height=img.height, score=img.score)
            for key, img in zip(keys, out.images, strict=True)
        ]
        result = Result(
            job_id=job.job_id,
            campaign_id=job.campaign_id,
            kind=job.kind,
            ok=True,
            images=images,
            device_seconds=seconds,
            batch_size=batch_size,
            worker=self.worker_id,
            attempts=max(1, d.attempts),
        )
        await self.queue.publish(d, result, round(seconds * 1000))

    async def fail(self, d: Delivery, reason: str, seconds: float = 0.0, batch_size: int = 0) -> None:
        job = delivered_job(d)
        result = Result(
            job_id=job.job_id,
            campaign_id=job.campaign_id,
            kind=job.kind,
            ok=False,
            error=reason,
            device_seconds=seconds,
            batch_size=batch_size,
            worker=self.worker_id,
            attempts=min(max(1, d.attempts), self.max_attempts),
        )
        await self.queue.publish(d, result, round(seconds * 1000))

    async def give_up(self, d: Delivery) -> None:
        job = delivered_job(d)
        last = await self.queue.last_attempt(job.job_id) or "the worker running it stopped"
        reason = f"failed after {self.max_attempts} attempts: {last}"
        await self.queue.dead_letter(d, reason)
        await self.fail(d, reason)

    async def reject_unreadable(self, d: Delivery) -> None:
        reason = d.parse_error or "unreadable job"
        await self.queue.dead_letter(d, reason)
        ids = loose_ids(d.raw)
        if ids is not None and not await self.queue.is_done(ids[0]):
            job_id, campaign_id, kind = ids
            result = Result(
                job_id=job_id,
                campaign_id=campaign_id,
                kind=api.JobKind(kind),
                ok=False,
                error=f"the engine could not read this job ({reason})",
                worker=self.worker_id,
                attempts=d.attempts,
            )
            await self.queue.publish(d, result, 0)
        else:
            await self.queue.ack(d)


def time_shares(jobs: list[Job], outputs: dict[str, JobOutput], wall: float) -> dict[str, float]:
    """A batch's wall time split by each job's work units (by image count when there are none)."""
    units: dict[str, float] = {}
    for job in jobs:
        out = outputs.get(job.job_id)
        units[job.job_id] = max(0.0, out.work_units) if out is not None else 0.0
    total = sum(units.values())
    if total <= 0:
        units = {job.job_id: float(max(1, len(job.seeds))) for job in jobs}
        total = sum(units.values())
    return {job_id: wall * u / total for job_id, u in units.items()}
