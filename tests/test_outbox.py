"""Effects are saved with the campaign and performed after it: a replica that stops in between loses none."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from pathlib import Path

import pytest
import redis.asyncio as aioredis

from bot.core.messages import NUMBER_EMOJI, Message
from bot.core.model import Stage, ThreadRef, User
from bot.ports import PostLog
from bot.service import CampaignService
from bot.usecases.jobs import ResultConsumer
from engine import api
from engine.api import JobKind
from engine.artifacts import ArtifactStore
from tests.test_service import (
    OWNER,
    PLATFORM,
    RecordingPresenter,
    World,
    finish,
    make_world,
    queued_jobs,
    voting_campaign,
)


class Stop(BaseException):
    """The replica stops (killed, shut down) in the middle of its work."""


@dataclass
class StopsOnFirstPost(RecordingPresenter):
    stopped: bool = False

    async def post(self, thread: ThreadRef, message: Message, log: PostLog) -> str:
        if not self.stopped:
            self.stopped = True
            raise Stop
        return await super().post(thread, message, log)


@dataclass
class DownForFirstPost(RecordingPresenter):
    failed: bool = False

    async def post(self, thread: ThreadRef, message: Message, log: PostLog) -> str:
        if not self.failed:
            self.failed = True
            raise ConnectionError("platform API down")
        return await super().post(thread, message, log)


@pytest.fixture
async def w(redis: aioredis.Redis, tmp_data_dir: Path) -> World:
    return make_world(redis, ArtifactStore(tmp_data_dir / "artifacts"))


def replica(w: World, client: aioredis.Redis, presenter: RecordingPresenter) -> CampaignService:
    return CampaignService(client, w.artifacts, {PLATFORM: presenter}, clock=w.clock, retention_seconds=5000)


def texts(presenter: RecordingPresenter) -> list[str]:
    return [m.text for _, m, _ in presenter.posts]


async def test_a_result_whose_replica_stopped_before_posting_is_posted_once_on_redelivery(
    w: World, second_client: aioredis.Redis
) -> None:
    await w.service.handle_text(PLATFORM, "chan", None, OWNER, "/draft a red fox --n 4")
    (job,) = await queued_jobs(w.redis)
    result = finish(job, w.artifacts)
    await w.redis.xadd(api.RESULTS_STREAM, api.encode(result))  # type: ignore[arg-type]
    dying = StopsOnFirstPost()
    with pytest.raises(Stop):
        await ResultConsumer(w.redis, "bot-a").poll(replica(w, w.redis, dying).apply_result)
    campaign = await w.service.campaign(job.campaign_id)
    assert (
        campaign is not None
        and campaign.stage is Stage.VOTING
        and sorted(campaign.candidates) == [1, 2, 3, 4]
    )
    assert dying.grids() == []

    fresh = RecordingPresenter()
    taking_over = replica(w, second_client, fresh)
    assert await ResultConsumer(second_client, "bot-b", claim_idle_ms=0).poll(taking_over.apply_result) == 1
    ((grid, message_id),) = fresh.grids()
    assert len(grid.images) == 4
    # the grid works: reactions on it are votes
    await taking_over.handle_reaction(PLATFORM, message_id, NUMBER_EMOJI[1], User(id="alice"), True)
    assert (await taking_over.vote_counts(job.campaign_id, 1))[2] == 1
    # later sweeps and a late copy of the result post nothing again and enqueue nothing
    posted = len(fresh.posts)
    w.clock.now += 3600
    await taking_over.deliver_stale_effects(w.clock.now)
    await w.service.deliver_stale_effects(w.clock.now)
    await taking_over.apply_result(result)
    assert len(fresh.posts) == posted and w.presenter.posts == []
    assert len(await queued_jobs(w.redis)) == 1


async def test_effects_left_by_a_stopped_replica_are_performed_once_by_the_sweep(
    w: World, second_client: aioredis.Redis
) -> None:
    campaign_id, message_id = await voting_campaign(w)
    await w.service.handle_reaction(PLATFORM, message_id, NUMBER_EMOJI[2], User(id="alice"), True)
    campaign = await w.service.campaign(campaign_id)
    assert campaign is not None and campaign.rounds[0].deadline is not None
    w.clock.now = campaign.rounds[0].deadline + 1
    with pytest.raises(Stop):
        await replica(w, w.redis, StopsOnFirstPost()).close_due_rounds(w.clock.now)
    campaign = await w.service.campaign(campaign_id)
    assert campaign is not None and campaign.stage is Stage.REFINING and campaign.rounds[0].winners == [3]
    assert [j.kind for j in await queued_jobs(w.redis)] == [JobKind.DRAFT]  # the refine never went out

    fresh = RecordingPresenter()
    replicas = [replica(w, second_client, fresh), replica(w, w.redis, fresh)]
    # the replica that saved the change may still be at work: the sweep leaves fresh effects alone
    assert await replicas[0].deliver_stale_effects(w.clock.now) == 0
    assert fresh.posts == []
    w.clock.now += 60
    await asyncio.gather(*(r.deliver_stale_effects(w.clock.now) for r in replicas))
    closed = [t for t in texts(fresh) if t.startswith("Round 1 closed at its deadline")]
    assert len(closed) == 1 and "#3" in closed[0]
    assert [j.kind for j in await queued_jobs(w.redis)] == [JobKind.DRAFT, JobKind.REFINE]
    # touching the campaign again, closing rounds and sweeping once more repeat nothing
    posted = len(fresh.posts)
    w.clock.now += 60
    await replicas[0].close_due_rounds(w.clock.now)
    await asyncio.gather(*(r.deliver_stale_effects(w.clock.now) for r in replicas))
    await replicas[1].handle_text(PLATFORM, "chan", "thread-1", OWNER, "/status")
    assert len(fresh.posts) == posted
    assert [j.kind for j in await queued_jobs(w.redis)] == [JobKind.DRAFT, JobKind.REFINE]


async def test_a_failed_post_does_not_hold_back_the_rest_and_is_retried_by_the_sweep(
    w: World, redis: aioredis.Redis
) -> None:
    down = DownForFirstPost()
    service = replica(w, redis, down)
    assert await service.handle_text(PLATFORM, "chan", None, OWNER, "/draft a red fox --n 4") == []
    (job,) = await queued_jobs(redis)
    await service.apply_result(finish(job, w.artifacts))
    assert down.grids() == []
    campaign = await service.campaign(job.campaign_id)
    assert campaign is not None and campaign.stage is Stage.VOTING
    assert down.statuses and "Voting" in down.statuses[-1][1]  # the status edit after the grid went out
    w.clock.now += 60
    await service.deliver_stale_effects(w.clock.now)
    assert len(down.grids()) == 1
    w.clock.now += 60
    await service.deliver_stale_effects(w.clock.now)
    assert len(down.grids()) == 1
