"""Test helpers: the real discord.py client against the fake Discord, over the real service and Redis.

``deliver_all`` plays the engine: one stored PNG per seed, applied as a worker's result would be.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import redis.asyncio as aioredis

from adapters.discord import DiscordAdapter, DiscordPresenter
from bot.service import CampaignService
from engine.artifacts import ArtifactStore
from tests.discord.fake_discord import GUILD_ID, FakeDiscord
from tests.support.engine_standin import EngineStandIn

TOKEN = "fake-bot-token-for-tests"


@dataclass
class Stack(EngineStandIn):
    redis: aioredis.Redis
    fake: FakeDiscord
    presenter: DiscordPresenter
    service: CampaignService
    artifacts: ArtifactStore
    adapters: list[DiscordAdapter] = field(default_factory=list)
    image_size = 32
    seconds_per_image = 0.1

    @property
    def adapter(self) -> DiscordAdapter:
        return self.adapters[-1]

    async def connect(self) -> DiscordAdapter:
        """A new client (as after a restart), started and ready."""
        adapter = DiscordAdapter(
            TOKEN,
            self.service,
            self.presenter,
            api_base=self.fake.api_base,
            approver_role="approver",
            guild_ids=[GUILD_ID],
            ready_timeout=20,
        )
        self.adapters.append(adapter)
        await adapter.start()
        return adapter

    async def close(self) -> None:
        for adapter in self.adapters:
            if not adapter.is_closed():
                await adapter.stop()


def make_stack(redis: aioredis.Redis, data_dir: Path, fake: FakeDiscord) -> Stack:
    presenter = DiscordPresenter()
    artifacts = ArtifactStore(data_dir / "artifacts")
    service = CampaignService(redis, artifacts, presenters={"discord": presenter})
    return Stack(redis, fake, presenter, service, artifacts)
