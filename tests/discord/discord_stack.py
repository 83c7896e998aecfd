"""Test helpers: the real discord.py client against the fake Discord, over the real service and Redis.

``deliver_all`` plays the engine: one stored PNG per seed, applied as a worker's result would be.
"""

from __future__ import annotations

import io
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import redis.asyncio as aioredis
from PIL import Image

from adapters.discord import DiscordAdapter, DiscordPresenter
from bot.service import CampaignService
from engine import api
from engine.api import ImageOut, Job, Result
from engine.artifacts import ArtifactStore
from tests.discord.fake_discord import GUILD_ID, FakeDiscord

TOKEN = "fake-bot-token-for-tests"


def png(size: int, shade: int) -> bytes:
    img = Image.new("RGB", (size, size), (shade % 256, (shade * 7) % 256, (shade * 13) % 256))
    buf = io.BytesIO()
    img.save(buf, format="PNG")
    return buf.getvalue()


@dataclass
class Stack:
    redis: aioredis.Redis
    fake: FakeDiscord
    presenter: DiscordPresenter
    service: CampaignService
    artifacts: ArtifactStore
    adapters: list[DiscordAdapter] = field(default_factory=list)

    @property
    def adapter(self) -> DiscordAdapter:
        return self.adapters[-1]

    async def connect(self) -> DiscordAdapter:
        """A new client (as after a restart), started and ready."""
        adapter = DiscordAdapter(
            TOKEN, self.service, self.presenter, api_base=self.fake.api_base, approver_role="approver",
            guild_ids=[GUILD_ID], ready_timeout=20,
        )
        self.adapters.append(adapter)
        await adapter.start()
        return adapter

    async def close(self) -> None:
        for adapter in self.adapters:
            if not adapter.is_closed():
                await adapter.stop()

    async def jobs(self) -> list[Job]:
        out: list[Job] = []
        for lane in api.LANES:
            entries: Any = await self.redis.xrange(api.jobs_stream(lane))
            out.extend(api.decode_job(fields) for _, fields in entries or [])
        return out

    async def deliver_all(self) -> list[Result]:
        results = []
        for job in await self.jobs():
            camp = await self.service.campaign(job.campaign_id)
            if camp is not None and job.job_id in camp.applied_results:
                continue
            images = [
                ImageOut(artifact=self.artifacts.put(png(32, seed + i)), seed=seed, width=32, height=32)
                for i, seed in enumerate(job.seeds)
            ]
            result = Result(
                job_id=job.job_id, campaign_id=job.campaign_id, kind=job.kind, ok=True, images=images,
                device_seconds=0.1 * len(images), batch_size=len(images), worker="test-worker",
            )
            await self.service.apply_result(result)
            results.append(result)
        return results


def make_stack(redis: aioredis.Redis, data_dir: Path, fake: FakeDiscord) -> Stack:
    presenter = DiscordPresenter()
    artifacts = ArtifactStore(data_dir / "artifacts")
    service = CampaignService(redis, artifacts, presenters={"discord": presenter})
    return Stack(redis, fake, presenter, service, artifacts)
