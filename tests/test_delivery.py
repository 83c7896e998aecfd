"""Delivery: posts that resume instead of doubling, a post given up on is said, and status edits that
stay within the platforms' rate limits without one campaign's wait holding up another's."""

from __future__ import annotations

import asyncio
import itertools
import logging
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import redis.asyncio as aioredis

from adapters.web.presenter import WebPresenter
from bot.core.messages import NUMBER_EMOJI, Message, MessageKind
from bot.core.model import ThreadRef, User
from bot.ports import EditBudget, PostLog, RateLimited
from bot.state import keys
from bot.state.message_index import MessageIndex
from bot.state.post_log import RedisPostLog
from bot.usecases.delivery import MAX_POST_TRIES
from engine.api import Progress
from engine.artifacts import ArtifactStore
from tests.test_service import (
    OWNER,
    PLATFORM,
    RecordingPresenter,
    World,
    deliver,
    make_world,
    queued_jobs,
)


class Accelerated:
    """Time that runs ``factor`` times faster than the wall clock, so a minute of edits takes seconds."""

    def __init__(self, factor: float) -> None:
        self.factor = factor
        self.start = time.monotonic()

    def now(self) -> float:
        return 1_000_000.0 + (time.monotonic() - self.start) * self.factor

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(seconds / self.factor)


@dataclass
class PartsPresenter(RecordingPresenter):
    """Posts like a chat platform: the message, then one reaction at a time, each part recorded in the
    post log; ``reaction_failures`` reaction calls fail (HTTP 429) before any succeeds."""

    reaction_failures: int = 0
    failing_kinds: set[MessageKind] = field(default_factory=set)
    seeded: dict[str, list[str]] = field(default_factory=dict)  # message id -> reactions, in order

    async def post(self, thread: ThreadRef, message: Message, log: PostLog) -> str:
        if message.kind in self.failing_kinds:
            raise ConnectionError("the platform refuses this post")
        message_id = await log.done("message")
        if message_id is None:
            message_id = await super().post(thread, message, log)
            await log.record("message", message_id)
            if message.round_no is not None:
                await log.vote_target(message_id)
        for emoji in message.reactions:
            if await log.done(f"reaction:{emoji}") is not None:
                continue
            if self.reaction_failures > 0:
                self.reaction_failures -= 1
                raise RateLimited(0.5, "reactions.add")
            self.seeded.setdefault(message_id, []).append(emoji)
            await log.record(f"reaction:{emoji}", "1")
        return message_id


@dataclass
class TimedPresenter(RecordingPresenter):
    """Status edits with the time each happened; edits in ``limited_threads`` are answered "wait"."""

    time: Accelerated = field(default_factory=lambda: Accelerated(1.0))
    edits: list[tuple[float, str, str]] = field(default_factory=list)  # (time, thread, text)
    limited_threads: set[str] = field(default_factory=set)
    refused: int = 0
    edit_budget: EditBudget = field(default_factory=lambda: EditBudget(edits=40, per_seconds=60.0))

    async def edit_status(self, thread: ThreadRef, message_id: str, text: str) -> None:
        if thread.thread_id in self.limited_threads:
            self.refused += 1
            raise RateLimited(30.0, "chat.update")
        self.edits.append((self.time.now(), thread.thread_id, text))
        await super().edit_status(thread, message_id, text)


@pytest.fixture
async def w(redis: aioredis.Redis, tmp_data_dir: Path) -> World:
    return make_world(redis, ArtifactStore(tmp_data_dir / "artifacts"))


def with_presenter(w: World, presenter: RecordingPresenter) -> World:
    world = make_world(w.redis, w.artifacts, w.clock)
    world.presenter = presenter
    world.service.presenters[PLATFORM] = presenter  # type: ignore[index]
    return world


async def drafting(w: World, prompt: str = "a red fox") -> tuple[str, str, str]:
    """A campaign whose draft job is running: (campaign id, job id, thread id)."""
    assert await w.service.handle_text(PLATFORM, "chan", None, OWNER, f"/draft {prompt} --n 4") == []
    job = (await queued_jobs(w.redis))[-1]
    campaign = await w.service.campaign(job.campaign_id)
    assert campaign is not None
    return job.campaign_id, job.job_id, campaign.thread.thread_id


# --- posts ------------------------------------------------------------------------------------


async def test_a_failed_reaction_seed_resumes_without_a_second_grid_and_votes_count_meanwhile(
    w: World,
) -> None:
    presenter = PartsPresenter(reaction_failures=MAX_POST_TRIES - 2)
    w = with_presenter(w, presenter)
    assert await w.service.handle_text(PLATFORM, "chan", None, OWNER, "/draft a red fox --n 4") == []
    await deliver(w)
    ((grid, grid_id),) = presenter.grids()
    assert presenter.seeded == {}  # the first reaction failed
    # the grid is a vote target as soon as it exists
    await w.service.handle_reaction(PLATFORM, grid_id, NUMBER_EMOJI[1], User(id="alice"), True)
    assert (await w.service.vote_counts(grid.campaign_id, 1))[2] == 1
    for _ in range(MAX_POST_TRIES):
        w.clock.now += 60
        await w.service.deliver_stale_effects(w.clock.now)
    assert len(presenter.grids()) == 1  # never posted again
    assert presenter.seeded == {grid_id: list(NUMBER_EMOJI[:4])}  # each reaction once, in order
    assert (await w.service.vote_counts(grid.campaign_id, 1))[2] == 1


async def draft_and_sweep_past_the_last_try(w: World) -> None:
    assert await w.service.handle_text(PLATFORM, "chan", None, OWNER, "/draft a red fox --n 4") == []
    await deliver(w)
    for _ in range(MAX_POST_TRIES + 2):
        w.clock.now += 60
        await w.service.deliver_stale_effects(w.clock.now)


async def test_a_post_given_up_on_is_said_in_the_thread_in_one_line(w: World) -> None:
    presenter = PartsPresenter(failing_kinds={MessageKind.GRID})
    await draft_and_sweep_past_the_last_try(with_presenter(w, presenter))
    notices = [m.text for _, m, _ in presenter.posts if "couldn't post" in m.text]
    said = f"I couldn't post the voting grid here after {MAX_POST_TRIES} tries; /status shows where"
    assert notices == [f"{said} the campaign is."]
    assert presenter.grids() == []


async def test_a_post_given_up_on_halfway_says_part_of_it_is_missing(w: World) -> None:
    presenter = PartsPresenter(reaction_failures=100)
    await draft_and_sweep_past_the_last_try(with_presenter(w, presenter))
    assert len(presenter.grids()) == 1
    notices = [m.text for _, m, _ in presenter.posts if "couldn't" in m.text]
    assert notices == [
        f"I couldn't finish posting the voting grid here after {MAX_POST_TRIES} tries: part of it is missing."
    ]


async def test_a_post_given_up_on_in_an_unreachable_thread_is_logged_with_the_campaign(
    w: World, caplog: pytest.LogCaptureFixture
) -> None:
    presenter = PartsPresenter(failing_kinds={MessageKind.GRID, MessageKind.TEXT})
    w = with_presenter(w, presenter)
    assert await w.service.handle_text(PLATFORM, "chan", None, OWNER, "/draft a red fox --n 4") == []
    (job,) = await queued_jobs(w.redis)
    await deliver(w)
    with caplog.at_level(logging.ERROR, logger="bot.usecases.delivery"):
        for _ in range(MAX_POST_TRIES + 2):
            w.clock.now += 60
            await w.service.deliver_stale_effects(w.clock.now)
    said = [r.getMessage() for r in caplog.records if "nor say so in its thread" in r.getMessage()]
    assert said and all(job.campaign_id in line for line in said)
    assert presenter.posts == []
    assert await w.redis.hlen(keys.outbox(job.campaign_id)) == 0  # given up on: nothing left to retry


# --- status edits -----------------------------------------------------------------------------


async def test_a_150_step_job_makes_fewer_than_50_edits_a_minute_and_its_final_status_shows(
    w: World,
) -> None:
    clock = Accelerated(20.0)
    presenter = TimedPresenter(time=clock)
    w = with_presenter(w, presenter)
    w.service.ctx.effects.status_edits.time = clock
    campaign_id, job_id, _ = await drafting(w)
    started = clock.now()
    for step in range(1, 151):  # 150 steps in 67 s, as the job that made 96 edits
        await w.service.relay_progress(
            Progress(job_id=job_id, campaign_id=campaign_id, step=step, total=150), wait=False
        )
        await clock.sleep(67.0 / 150)
    await w.service.ctx.effects.status_edits.settled()
    progress = [(t, text) for t, _, text in presenter.edits if "step" in text]
    assert progress and "step 150/150" in progress[-1][1]  # the latest text wins
    for t, _ in progress:
        assert len([u for u, _ in progress if t <= u < t + 60]) < 50
    assert len(progress) <= (clock.now() - started) / w.service.ctx.effects.status_edits.pace_seconds + 1
    await deliver(w)  # the job finishes: the stage status is shown at once, after every step
    assert "Voting" in presenter.statuses[-1][1]


async def test_all_campaigns_together_stay_within_the_platform_budget(w: World) -> None:
    clock = Accelerated(20.0)
    presenter = TimedPresenter(time=clock)
    w = with_presenter(w, presenter)
    w.service.ctx.effects.status_edits.time = clock
    running = [await drafting(w, f"fox {i}") for i in range(6)]
    for step in range(1, 61):  # six campaigns, one step each every second, for a minute
        for campaign_id, job_id, _ in running:
            await w.service.relay_progress(
                Progress(job_id=job_id, campaign_id=campaign_id, step=step, total=60), wait=False
            )
        await clock.sleep(1.0)
    await w.service.ctx.effects.status_edits.settled()
    times = [t for t, _, _ in presenter.edits]
    assert len({thread for _, thread, _ in presenter.edits}) == 6  # every campaign got its edits
    for t in times:
        assert len([u for u in times if t <= u < t + 60]) <= presenter.edit_budget.edits
    for _, thread, _ in presenter.edits:  # each campaign's last step shows
        assert any(th == thread and "step 60/60" in text for _, th, text in presenter.edits)


async def test_a_rate_limited_campaign_does_not_delay_another_campaigns_edit(w: World) -> None:
    clock = Accelerated(1.0)
    presenter = TimedPresenter(time=clock)
    w = with_presenter(w, presenter)
    slow_id, slow_job, slow_thread = await drafting(w, "slow fox")
    fast_id, fast_job, fast_thread = await drafting(w, "fast fox")
    presenter.limited_threads.add(slow_thread)
    w.service.ctx.effects.status_edits.pace_seconds = 0.0

    await w.service.relay_progress(
        Progress(job_id=slow_job, campaign_id=slow_id, step=1, total=9), wait=False
    )
    await asyncio.sleep(0.05)
    assert presenter.refused == 1  # the platform said "wait 30 s" to the slow campaign's edit
    asked = clock.now()
    await asyncio.wait_for(
        w.service.relay_progress(Progress(job_id=fast_job, campaign_id=fast_id, step=1, total=9)), timeout=5
    )
    shown = [t for t, thread, text in presenter.edits if thread == fast_thread and "step 1/9" in text]
    assert shown and shown[0] - asked < 1.0
    assert presenter.refused == 1  # and the slow one waits its 30 s before trying again
    assert len(w.service.ctx.effects.status_edits) == 1
    await w.service.ctx.effects.status_edits.close()


async def test_replicas_relaying_the_same_progress_share_one_pace(w: World) -> None:
    clock = Accelerated(20.0)
    presenter = TimedPresenter(time=clock)
    w = with_presenter(w, presenter)
    other = with_presenter(w, presenter)  # a second replica on the same Redis, same platform
    for world in (w, other):
        world.service.ctx.effects.status_edits.time = clock
    campaign_id, job_id, _ = await drafting(w)
    started = clock.now()
    for step in range(1, 61):  # every replica receives every step
        for world in (w, other):
            await world.service.relay_progress(
                Progress(job_id=job_id, campaign_id=campaign_id, step=step, total=60), wait=False
            )
        await clock.sleep(0.5)
    for world in (w, other):
        await world.service.ctx.effects.status_edits.settled()
    progress = [t for t, _, text in presenter.edits if "step" in text]
    pace = w.service.ctx.effects.status_edits.pace_seconds
    assert 2 <= len(progress) <= (clock.now() - started) / pace + 1
    assert all(b - a >= pace * 0.9 for a, b in itertools.pairwise(progress))


async def test_the_web_playground_shows_a_retried_post_once_and_its_grid_takes_votes(
    w: World, tmp_data_dir: Path
) -> None:
    web = WebPresenter(state_path=tmp_data_dir / "playground.json")
    thread = await web.open_thread("general", "a red fox")
    grid = Message(
        kind=MessageKind.GRID, campaign_id="c1", text="Round 1", reactions=list(NUMBER_EMOJI[:2]), round_no=1
    )
    log = RedisPostLog(w.redis, "c1:3:0", platform="web", campaign_id="c1", round_no=1)
    first = await web.post(thread, grid, log)
    again = await web.post(thread, grid, log)  # the same effect tried again
    assert again == first
    assert [m.id for m in web.state.messages.values() if m.kind == "grid"] == [first]
    assert await MessageIndex(w.redis).lookup("web", first) == ("c1", 1)
