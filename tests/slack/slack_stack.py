"""Test helpers: the Slack adapter over the real service and a real Redis, talking to ``FakeSlack``.

``deliver`` plays the engine: it stores one PNG per seed in the artifact store and applies the result.
"""

from __future__ import annotations

import asyncio
import io
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import redis.asyncio as aioredis
from PIL import Image

from adapters.slack import SlackAdapter, SlackPresenter
from bot.service import CampaignService
from engine import api
from engine.api import ImageOut, Job, Result
from engine.artifacts import ArtifactStore
from tests.slack.fake_slack import BOT_TOKEN, SIGNING_SECRET, FakeSlack, SlackSender

PALETTE = [(224, 102, 63), (47, 143, 216), (33, 162, 122), (201, 138, 6), (91, 91, 214), (208, 57, 75)]
WAIT_SECONDS = 15.0


def png(width: int, height: int, color: tuple[int, int, int]) -> bytes:
    img = Image.new("RGB", (width, height), color)
    lighter = tuple(min(255, c + 60) for c in color)
    img.paste(lighter, (width // 4, height // 4, width * 3 // 4, height * 3 // 4))
    buf = io.BytesIO()
    img.save(buf, format="PNG")
    return buf.getvalue()


@dataclass
class SlackStack:
    redis: aioredis.Redis
    fake: FakeSlack
    presenter: SlackPresenter
    service: CampaignService
    artifacts: ArtifactStore
    adapter: SlackAdapter
    sender: SlackSender

    async def settle(self) -> None:
        """Wait (bounded) for the work the adapter scheduled for the requests sent so far."""
        assert await self.adapter.drain(WAIT_SECONDS), "the adapter's background work did not finish"

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

    async def close(self) -> None:
        await self.adapter.stop()


async def wait_for(what: str, check: Callable[[], Any], seconds: float = WAIT_SECONDS) -> Any:
    """Poll ``check`` until it returns something truthy; fail naming ``what`` after ``seconds``."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + seconds
    while True:
        value = check()
        if asyncio.iscoroutine(value):
            value = await value
        if value:
            return value
        if loop.time() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.02)


async def make_stack(
    redis: aioredis.Redis, data_dir: Path, fake: FakeSlack, *, approvers: tuple[str, ...] = (),
    artifacts: ArtifactStore | None = None,
) -> SlackStack:
    """A fresh presenter, service and adapter (as after a restart) over the given Redis and fake Slack."""
    artifacts = artifacts or ArtifactStore(data_dir / "artifacts")
    presenter = SlackPresenter(BOT_TOKEN, api_url=fake.api_url)
    service = CampaignService(redis, artifacts, presenters={"slack": presenter})
    adapter = SlackAdapter(
        BOT_TOKEN, SIGNING_SECRET, service, presenter, api_url=fake.api_url, approver_user_ids=approvers,
    )
    await adapter.start("127.0.0.1", 0)
    sender = SlackSender(f"http://127.0.0.1:{adapter.port}{adapter.path}")
    return SlackStack(redis, fake, presenter, service, artifacts, adapter, sender)
