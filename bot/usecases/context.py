"""What every use case works through: the Redis stores, the presenters, the clock and the settings."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from redis.asyncio import Redis

from bot.ports import Presenter
from bot.state.campaigns import CampaignStore
from bot.state.deadlines import DeadlineStore
from bot.state.idempotency import SeenStore
from bot.state.message_index import MessageIndex
from bot.state.quota import QuotaStore
from bot.state.retention import DEFAULT_RETENTION_SECONDS
from bot.state.votes import VoteStore
from bot.state.workers import WorkerBeats
from bot.usecases.delivery import EffectRunner
from engine.artifacts import ArtifactStore


@dataclass
class UseCaseContext:
    redis: Redis
    artifacts: ArtifactStore
    presenters: Mapping[str, Presenter]
    clock: Callable[[], float]
    retention_seconds: int
    default_model: str
    quota_images_per_day: int | None
    campaigns: CampaignStore
    votes: VoteStore
    deadlines: DeadlineStore
    messages: MessageIndex
    seen: SeenStore
    quota: QuotaStore
    workers: WorkerBeats
    effects: EffectRunner

    @classmethod
    def build(
        cls,
        redis: Redis,
        artifacts: ArtifactStore,
        presenters: Mapping[str, Presenter],
        *,
        clock: Callable[[], float] = time.time,
        retention_seconds: int = DEFAULT_RETENTION_SECONDS,
        default_model: str = "",
        quota_images_per_day: int | None = None,
    ) -> UseCaseContext:
        campaigns = CampaignStore(redis, retention_seconds=retention_seconds)
        return cls(
            redis=redis,
            artifacts=artifacts,
            presenters=presenters,
            clock=clock,
            retention_seconds=retention_seconds,
            default_model=default_model,
            quota_images_per_day=quota_images_per_day,
            campaigns=campaigns,
            votes=VoteStore(redis),
            deadlines=DeadlineStore(redis),
            messages=MessageIndex(redis),
            seen=SeenStore(redis),
            quota=QuotaStore(redis),
            workers=WorkerBeats(redis),
            effects=EffectRunner(redis, presenters, campaigns, seen_seconds=retention_seconds),
        )

    def presenter(self, platform: str) -> Presenter:
        try:
            return self.presenters[platform]
        except KeyError:
            raise KeyError(f"no presenter for platform {platform!r}") from None
