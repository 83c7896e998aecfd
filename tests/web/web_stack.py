"""Test helpers: the web playground over the real service and a real Redis; ``deliver`` plays the engine."""

from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import redis.asyncio as aioredis
from PIL import Image

from adapters.web.app import WebApp
from adapters.web.presenter import WebPresenter
from bot.service import CampaignService
from engine import api
from engine.api import ImageOut, Job, Result
from engine.artifacts import ArtifactStore

PALETTE = [(224, 102, 63), (47, 143, 216), (33, 162, 122), (201, 138, 6), (91, 91, 214), (208, 57, 75)]


def png(width: int, height: int, color: tuple[int, int, int]) -> bytes:
    img = Image.new("RGB", (width, height), color)
    for x in range(width // 4, width * 3 // 4):  # a lighter square so images are not flat
        for y in range(height // 4, height * 3 // 4):
            img.putpixel((x, y), tuple(min(255, c + 60) for c in color))
    buf = io.BytesIO()
    img.save(buf, format="PNG")
    return buf.getvalue()


@dataclass
class Stack:
    redis: aioredis.Redis
    presenter: WebPresenter
    service: CampaignService
    artifacts: ArtifactStore
    web: WebApp
    data_dir: Path

    async def jobs(self) -> list[Job]:
        out: list[Job] = []
        for lane in api.LANES:
            entries: Any = await self.redis.xrange(api.jobs_stream(lane))
            out.extend(api.decode_job(fields) for _, fields in entries or [])
        return out

    async def deliver(self, job: Job, size: int = 64) -> Result:
        """Finish a job as a worker would: store one image per seed and apply the result."""
        images = []
        for i, seed in enumerate(job.seeds):
            key = self.artifacts.put(png(size, size, PALETTE[(seed + i) % len(PALETTE)]))
            images.append(ImageOut(artifact=key, seed=seed, width=size, height=size))
        result = Result(
            job_id=job.job_id, campaign_id=job.campaign_id, kind=job.kind, ok=True, images=images,
            device_seconds=0.25 * len(images), batch_size=len(images), worker="test-worker",
        )
        await self.service.apply_result(result)
        return result

    async def deliver_all(self) -> list[Result]:
        done = {r for r in await self._applied()}
        results = []
        for job in await self.jobs():
            if job.job_id not in done:
                results.append(await self.deliver(job))
        return results

    async def _applied(self) -> set[str]:
        applied: set[str] = set()
        for job in await self.jobs():
            camp = await self.service.campaign(job.campaign_id)
            if camp is not None and job.job_id in camp.applied_results:
                applied.add(job.job_id)
        return applied


def make_stack(
    redis: aioredis.Redis, data_dir: Path, *, host: str = "127.0.0.1", port: int = 0,
    token: str | None = None, max_upload_bytes: int = 10 * 1024 * 1024,
) -> Stack:
    presenter = WebPresenter(state_path=data_dir / "web" / "playground.json")
    artifacts = ArtifactStore(data_dir / "artifacts")
    service = CampaignService(redis, artifacts, presenters={"web": presenter})
    web = WebApp(service, presenter, host=host, port=port, token=token, max_upload_bytes=max_upload_bytes)
    return Stack(redis, presenter, service, artifacts, web, data_dir)
