"""/schedule add, list and remove, and scheduled campaign threads (real Redis, a clock the test moves)."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path
from typing import Any

import pytest
import redis.asyncio as aioredis

from bot.core.messages import NUMBER_EMOJI
from bot.core.model import Stage, User
from bot.core.schedule import next_fire
from bot.service import CampaignService
from engine.api import JobKind
from engine.artifacts import ArtifactStore
from tests.test_service import (
    OWNER,
    PLATFORM,
    Clock,
    RecordingPresenter,
    World,
    finish,
    make_world,
    queued_jobs,
)

# 2027-01-15 08:00 UTC, a Friday
START = 1_800_000_000.0
NINE = START + 3600  # 09:00 UTC that day


@pytest.fixture
async def w(redis: aioredis.Redis, tmp_data_dir: Path) -> World:
    return make_world(redis, ArtifactStore(tmp_data_dir / "artifacts"), Clock(START))


async def say(
    w: World, text: str, user: User = OWNER, channel: str = "chan", thread: str | None = None
) -> str:
    (reply,) = await w.service.handle_text(PLATFORM, channel, thread, user, text)
    return reply


async def add(w: World, text: str = '/schedule add "0 9 * * *" a fox at dawn --n 4 --vote 10m') -> str:
    reply = await say(w, text)
    found = re.match(r"Schedule ([0-9a-f]{6}) added", reply)
    assert found, reply
    return found.group(1)


def test_next_fire_is_the_next_slot_in_utc() -> None:
    assert next_fire("0 9 * * *", START) == NINE
    assert next_fire("0 9 * * *", NINE) == NINE + 86400
    assert next_fire("0 9 * * 1", START) == NINE + 3 * 86400  # the Monday after


async def test_add_list_and_remove_with_clear_answers(w: World) -> None:
    schedule_id = await add(w)
    assert await say(w, "/schedule list", channel="elsewhere") == (
        'This channel has no schedules. Add one with `/schedule add "0 9 * * 1" <prompt>`.'
    )
    listing = await say(w, "/schedule list", User(id="bob"))
    assert schedule_id in listing and "`0 9 * * *`" in listing
    assert "next run 2027-01-15 09:00 UTC" in listing and "a fox at dawn" in listing

    assert await say(w, "/schedule remove zz9") == (
        "There is no schedule zz9 in this channel: /schedule list shows the ids."
    )
    assert "There is no schedule" in await say(w, f"/schedule remove {schedule_id}", channel="elsewhere")
    refused = await say(w, f"/schedule remove {schedule_id}", User(id="bob"))
    assert refused == f"Only Olga, who added schedule {schedule_id}, or an approver can remove it."
    assert schedule_id in await say(w, "/schedule list")

    assert await say(w, f"/schedule remove {schedule_id}", User(id="ann", is_approver=True)) == (
        f"Schedule {schedule_id} removed: it will not run again."
    )
    assert "no schedules" in await say(w, "/schedule list")
    mine = await add(w)
    assert "removed" in await say(w, f"/schedule remove {mine}")  # the one who added it may remove it
    w.clock.now = NINE + 1
    assert await w.service.fire_due_schedules(w.clock.now) == 0
    assert w.presenter.threads == []


async def test_a_schedule_that_cannot_run_is_refused(w: World) -> None:
    too_often = await say(w, '/schedule add "*/5 * * * *" a fox')
    assert "every 5 min" in too_often and "at most every 15 min" in too_often
    assert "never matches" in await say(w, '/schedule add "0 9 30 2 *" a fox')
    assert await w.service.handle_text(PLATFORM, "chan", None, OWNER, "/draft an owl --n 2") == []
    in_thread = await say(w, '/schedule add "0 9 * * *" a fox', thread="thread-1")
    assert "use /schedule add, list or remove in the channel itself" in in_thread
    assert "no schedules" in await say(w, "/schedule list")


async def test_a_due_schedule_opens_one_thread_on_the_scheduled_lane_with_two_replicas_racing(
    w: World, second_client: aioredis.Redis
) -> None:
    schedule_id = await add(w)
    replicas = [
        CampaignService(client, w.artifacts, {PLATFORM: w.presenter}, clock=w.clock)
        for client in (w.redis, second_client, w.redis)
    ]
    assert await replicas[0].fire_due_schedules(NINE - 1) == 0
    w.clock.now = NINE + 2
    all_read = asyncio.Barrier(len(replicas))
    for r in replicas:  # every replica has read the due schedule before any of them claims it
        read = r.schedules.store.due

        async def due_then_wait(now: float, limit: int = 100, read: Any = read) -> list[tuple[str, float]]:
            found: list[tuple[str, float]] = await read(now, limit)
            await all_read.wait()
            return found

        r.schedules.store.due = due_then_wait  # type: ignore[method-assign]
    fired = await asyncio.gather(*(r.fire_due_schedules(w.clock.now) for r in replicas))
    assert sorted(fired) == [0, 0, 1]
    assert w.presenter.threads == [("chan", "a fox at dawn")]
    (job,) = await queued_jobs(w.redis, "scheduled")
    assert job.lane == "scheduled" and job.kind == JobKind.DRAFT and len(job.seeds) == 4
    assert await queued_jobs(w.redis, "interactive") == []
    campaign = await w.service.campaign(job.campaign_id)
    assert campaign is not None and campaign.owner == OWNER.id and campaign.thread.thread_id == "thread-1"
    assert "next run 2027-01-16 09:00 UTC" in await say(w, "/schedule list")
    assert schedule_id in await say(w, "/schedule list")
    assert await w.service.fire_due_schedules(w.clock.now + 60) == 0


async def test_runs_missed_while_no_replica_was_up_fire_once(w: World) -> None:
    await add(w)
    w.clock.now = NINE + 3 * 86400 + 600  # three days later, after that day's 09:00
    assert await w.service.fire_due_schedules(w.clock.now) == 1
    assert await w.service.fire_due_schedules(w.clock.now) == 0
    assert len(w.presenter.threads) == 1 and len(await queued_jobs(w.redis, "scheduled")) == 1
    assert "next run 2027-01-19 09:00 UTC" in await say(w, "/schedule list")


async def test_a_scheduled_campaign_votes_closes_at_its_deadline_and_refines_the_winner(w: World) -> None:
    await add(w)
    w.clock.now = NINE
    assert await w.service.fire_due_schedules(w.clock.now) == 1
    (job,) = await queued_jobs(w.redis, "scheduled")
    await w.service.apply_result(finish(job, w.artifacts))
    ((_, message_id),) = w.presenter.grids()
    await w.service.handle_reaction(PLATFORM, message_id, NUMBER_EMOJI[1], User(id="bob"), True)
    w.clock.now += 11 * 60
    assert await w.service.close_due_rounds(w.clock.now) == 1
    campaign = await w.service.campaign(job.campaign_id)
    assert campaign is not None and campaign.stage is Stage.REFINING and campaign.rounds[0].winners == [2]
    (refine,) = await queued_jobs(w.redis, "interactive")
    assert refine.kind == JobKind.REFINE and refine.seeds == [campaign.candidates[2].seed]


async def test_a_run_whose_thread_could_not_be_opened_is_tried_again(w: World, redis: aioredis.Redis) -> None:
    class Down(RecordingPresenter):
        async def open_thread(self, channel_id: str, title: str):  # type: ignore[no-untyped-def]
            raise ConnectionError("platform API down")

    await add(w)
    down = CampaignService(redis, w.artifacts, {PLATFORM: Down()}, clock=w.clock)
    w.clock.now = NINE
    assert await down.fire_due_schedules(w.clock.now) == 0
    assert "next run 2027-01-15 09:01 UTC" in await say(w, "/schedule list")
    w.clock.now += 60
    assert await w.service.fire_due_schedules(w.clock.now) == 1
    assert len(w.presenter.threads) == 1
    assert "next run 2027-01-16 09:00 UTC" in await say(w, "/schedule list")
