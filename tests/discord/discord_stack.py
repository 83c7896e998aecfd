"""Test helpers: the real discord.py client against the fake Discord, over the real service and Redis.

``deliver_all`` plays the engine: one stored PNG per seed, applied as a worker's result would be.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import discord
import redis.asyncio as aioredis

from adapters.discord import DiscordAdapter, DiscordPresenter
from bot.service import CampaignService
from engine.artifacts import ArtifactStore
from tests.discord.fake_discord import GUILD_ID, FakeDiscord
from tests.support.engine_standin import EngineStandIn

TOKEN = "fake-bot-token-for-tests"


class CountingAdapter(DiscordAdapter):
    """The real adapter, counting the events it has finished handling, so tests know when to look."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.handled: Counter[str] = Counter()

    async def run_command(
        self, interaction: discord.Interaction[Any], name: str, options: dict[str, Any]
    ) -> None:
        try:
            await super().run_command(interaction, name, options)
        finally:
            self.handled["command"] += 1

    async def on_action_button(self, interaction: discord.Interaction[Any], action_id: str) -> None:
        try:
            await super().on_action_button(interaction, action_id)
        finally:
            self.handled["action"] += 1

    async def on_raw_reaction_add(self, payload: discord.RawReactionActionEvent) -> None:
        try:
            await super().on_raw_reaction_add(payload)
        finally:
            self.handled["reaction"] += 1

    async def on_raw_reaction_remove(self, payload: discord.RawReactionActionEvent) -> None:
        try:
            await super().on_raw_reaction_remove(payload)
        finally:
            self.handled["reaction"] += 1


@dataclass
class Stack(EngineStandIn):
    redis: aioredis.Redis
    fake: FakeDiscord
    presenter: DiscordPresenter
    service: CampaignService
    artifacts: ArtifactStore
    adapters: list[CountingAdapter] = field(default_factory=list)
    image_size = 32
    seconds_per_image = 0.1

    @property
    def adapter(self) -> CountingAdapter:
        return self.adapters[-1]

    async def connect(self) -> CountingAdapter:
        """A new client (as after a restart), started and ready."""
        adapter = CountingAdapter(
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
