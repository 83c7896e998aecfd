"""The engine's part in tests over the real service and Redis: read the queued jobs, store one PNG per
seed in the artifact store and apply the result as a worker's would be."""

from __future__ import annotations

import io
from typing import Any

import redis.asyncio as aioredis
from PIL import Image

from bot.service import CampaignService
from engine import api
from engine.api import ImageOut, Job, Result
from engine.artifacts import ArtifactStore

PALETTE = [(224, 102, 63), (47, 143, 216), (33, 162, 122), (201, 138, 6), (91, 91, 214), (208, 57, 75)]


def png(width: int, height: int, color: tuple[int, int, int]) -> bytes:
    """A PNG of one colour with a lighter square in the middle, so images are not flat."""
    img = Image.new("RGB", (width, height), color)
    lighter = tuple(min(255, c + 60) for c in color)
    img.paste(lighter, (width // 4, height // 4, width * 3 // 4, height * 3 // 4))
    buf = io.BytesIO()
    img.save(buf, format="PNG")
    return buf.getvalue()


class EngineStandIn:
    """Mixed into a test stack that has ``redis``, ``service`` and ``artifacts``."""

    redis: aioredis.Redis
    service: CampaignService
    artifacts: ArtifactStore
    image_size = 64
    seconds_per_image = 0.25

    async def jobs(self) -> list[Job]:
        """Every job queued so far, on every lane."""
        out: list[Job] = []
        for lane in api.LANES:
            entries: Any = await self.redis.xrange(api.jobs_stream(lane))
            out.extend(api.decode_job(fields) for _, fields in entries or [])
        return out

    async def deliver(self, job: Job, size: int | None = None) -> Result:
        """Finish a job as a worker would: store one image per seed and apply the result."""
        size = size or self.image_size
        images = []
        for i, seed in enumerate(job.seeds):
            key = self.artifacts.put(png(size, size, PALETTE[(seed + i) % len(PALETTE)]))
            images.append(ImageOut(artifact=key, seed=seed, width=size, height=size))
        result = Result(
            job_id=job.job_id,
            campaign_id=job.campaign_id,
            kind=job.kind,
            ok=True,
            images=images,
            device_seconds=self.seconds_per_image * len(images),
            batch_size=len(images),
            worker="test-worker",
        )
        await self.service.apply_result(result)
        return result

    async def deliver_all(self) -> list[Result]:
        """Deliver every queued job whose result the campaign has not applied yet."""
        results = []
        for job in await self.jobs():
            camp = await self.service.campaign(job.campaign_id)
            if camp is not None and job.job_id in camp.applied_results:
                continue
            results.append(await self.deliver(job))
        return results
