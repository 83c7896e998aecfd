from __future__ import annotations

import asyncio
import io
import sys
import textwrap
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import redis.asyncio as aioredis
from PIL import Image

from bot.core.grammar import help_text
from bot.core.messages import NUMBER_EMOJI, Message, MessageKind
from bot.core.model import Stage, ThreadRef, User
from bot.ports import PostLog
from bot.redis_server import EmbeddedRedis
from bot.service import CampaignService
from bot.state import keys
from bot.usecases.jobs import ResultConsumer
from bot.usecases.loops import run_service_loops
from engine import api
from engine.api import ImageOut, Job, JobKind, Progress, Result
from engine.artifacts import ArtifactStore
from tests.core.test_phrasing import assert_typeable

OWNER = User(id="owner", name="Olga")
PLATFORM = "web"


class Clock:
    def __init__(self, now: float = 1_800_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@dataclass
class RecordingPresenter:
    """The chat platform's side, as seen by the service: threads opened, messages posted, status edits."""

    platform: str = PLATFORM
    threads: list[tuple[str, str]] = field(default_factory=list)
    posts: list[tuple[ThreadRef, Message, str]] = field(default_factory=list)
    statuses: list[tuple[ThreadRef, str]] = field(default_factory=list)

    async def open_thread(self, channel_id: str, title: str) -> ThreadRef:
        self.threads.append((channel_id, title))
        return ThreadRef(
            platform=self.platform, channel_id=channel_id, thread_id=f"thread-{len(self.threads)}"
        )

    async def post(self, thread: ThreadRef, message: Message, log: PostLog) -> str:
        message_id = f"msg-{len(self.posts) + 1}"
        self.posts.append((thread, message, message_id))
        return message_id

    async def post_status(self, thread: ThreadRef, text: str) -> str:
        self.statuses.append((thread, text))
        return f"status-{len(self.statuses)}"

    async def edit_status(self, thread: ThreadRef, message_id: str, text: str) -> None:
        self.statuses.append((thread, text))

    def grids(self) -> list[tuple[Message, str]]:
        return [(m, mid) for _, m, mid in self.posts if m.kind is MessageKind.GRID and m.round_no is not None]


def png(seed: int, size: tuple[int, int] = (8, 8)) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", size, (seed % 256, (seed // 256) % 256, 7)).save(buf, format="PNG")
    return buf.getvalue()


async def queued_jobs(redis: aioredis.Redis, lane: str = "interactive") -> list[Job]:
    entries: list[tuple[bytes, dict[bytes, bytes]]] = await redis.xrange(api.jobs_stream(lane))  # type: ignore[assignment]
    return [api.decode_job(fields) for _, fields in entries]


async def until(check: Callable[[], Awaitable[bool]]) -> None:
    """Wait for something the background loops do (they run on their own schedule)."""
    for _ in range(1200):
        if await check():
            return
        await asyncio.sleep(0.05)
    raise AssertionError("the loops never did it")


def finish(job: Job, artifacts: ArtifactStore) -> Result:
    """What an engine worker sends back for a job: one stored image per seed."""
    images = [ImageOut(artifact=artifacts.put(png(seed)), seed=seed, width=8, height=8) for seed in job.seeds]
    return done(job, images)


def done(job: Job, images: list[ImageOut]) -> Result:
    """A job's successful result with these images (0.4 device seconds)."""
    return Result(
        job_id=job.job_id,
        campaign_id=job.campaign_id,
        kind=job.kind,
        ok=True,
        images=images,
        device_seconds=0.4,
    )


@dataclass
class World:
    redis: aioredis.Redis
    artifacts: ArtifactStore
    presenter: RecordingPresenter
    clock: Clock
    service: CampaignService


@pytest.fixture
def artifacts(tmp_data_dir: Path) -> ArtifactStore:
    return ArtifactStore(tmp_data_dir / "artifacts")


def make_world(redis: aioredis.Redis, artifacts: ArtifactStore, clock: Clock | None = None) -> World:
    """The service over ``redis`` with a recording presenter and a clock the test moves."""
    presenter, clock = RecordingPresenter(), clock or Clock()
    service = CampaignService(redis, artifacts, {PLATFORM: presenter}, clock=clock, retention_seconds=5000)
    return World(redis, artifacts, presenter, clock, service)


@pytest.fixture
async def world(redis: aioredis.Redis, artifacts: ArtifactStore) -> World:
    return make_world(redis, artifacts)


async def deliver(w: World, consumer_name: str = "bot-test") -> None:
    """Run every queued job through a pretend engine and let the service consume the results."""
    consumer = ResultConsumer(w.redis, consumer_name)
    await consumer.ensure_group()
    for job in await queued_jobs(w.redis):
        if not await w.redis.sismember("test:done", job.job_id):
            await w.redis.sadd("test:done", job.job_id)
            await w.redis.xadd(api.RESULTS_STREAM, api.encode(finish(job, w.artifacts)))  # type: ignore[arg-type]
    while await consumer.poll(w.service.apply_result):
        pass


async def voting_campaign(w: World, text: str = "/draft a red fox --n 4 --vote 10m") -> tuple[str, str]:
    """A campaign whose first round of 4 drafts is open for votes: (campaign id, grid message id)."""
    assert await w.service.handle_text(PLATFORM, "chan", None, OWNER, text) == []
    await deliver(w)
    (grid, message_id), *_ = w.presenter.grids()
    campaign = await w.service.campaign(grid.campaign_id)
    assert campaign is not None and campaign.stage is Stage.VOTING
    return grid.campaign_id, message_id


# --- commands ---------------------------------------------------------------------------------


async def test_a_draft_in_a_channel_opens_a_thread_and_enqueues_one_job(world: World) -> None:
    w = world
    replies = await w.service.handle_text(
        PLATFORM, "chan", None, OWNER, "/draft a red fox --n 4", event_id="e1"
    )
    assert replies == []
    assert w.presenter.threads == [("chan", "a red fox")]
    (job,) = await queued_jobs(w.redis)
    assert job.prompt == "a red fox" and len(job.seeds) == 4
    thread = ThreadRef(platform=PLATFORM, channel_id="chan", thread_id="thread-1")
    campaign = await w.service.campaign_for_thread(thread)
    assert campaign is not None and job.job_id in campaign.pending
    assert [c.id for c in await w.service.campaigns_in_channel(PLATFORM, "chan")] == [campaign.id]
    # the next command in that thread goes to the same campaign
    status = await w.service.handle_text(PLATFORM, "chan", "thread-1", OWNER, "/status")
    assert len(status) == 1 and status[0]


async def test_bad_commands_and_commands_outside_a_campaign_get_an_answer(world: World) -> None:
    w = world
    (err,) = await w.service.handle_text(PLATFORM, "chan", None, OWNER, "/draft fox --n lots")
    assert "--n" in err
    (none,) = await w.service.handle_text(PLATFORM, "chan", "t-x", OWNER, "/vary 2")
    assert "/draft" in none
    assert w.presenter.threads == [] and await queued_jobs(w.redis) == []


async def test_a_platform_event_delivered_twice_is_handled_once(world: World) -> None:
    w = world
    for _ in range(2):
        await w.service.handle_text(PLATFORM, "chan", None, OWNER, "/draft fox --n 2", event_id="evt-9")
    assert len(w.presenter.threads) == 1
    assert len(await queued_jobs(w.redis)) == 1


async def test_an_event_whose_handling_failed_is_handled_on_the_platforms_retry(world: World) -> None:
    w = world

    class Down(RecordingPresenter):
        async def open_thread(self, channel_id: str, title: str) -> ThreadRef:
            raise ConnectionError("platform API down")

    flaky = CampaignService(w.redis, w.artifacts, {PLATFORM: Down()}, clock=w.clock)
    with pytest.raises(ConnectionError):
        await flaky.handle_text(PLATFORM, "chan", None, OWNER, "/draft fox --n 2", event_id="evt-1")
    assert await queued_jobs(w.redis) == []
    assert (
        await w.service.handle_text(PLATFORM, "chan", None, OWNER, "/draft fox --n 2", event_id="evt-1") == []
    )
    assert len(w.presenter.threads) == 1 and len(await queued_jobs(w.redis)) == 1


async def test_a_refused_draft_opens_no_thread(world: World) -> None:
    w = world
    (reply,) = await w.service.handle_text(PLATFORM, "chan", None, OWNER, "/draft   ")
    assert reply
    assert w.presenter.threads == [] and await queued_jobs(w.redis) == []


async def test_the_daily_quota_refuses_images_beyond_it(
    redis: aioredis.Redis, artifacts: ArtifactStore
) -> None:
    presenter, clock = RecordingPresenter(), Clock()
    service = CampaignService(redis, artifacts, {PLATFORM: presenter}, clock=clock, quota_images_per_day=6)
    assert await service.handle_text(PLATFORM, "chan", None, OWNER, "/draft fox --n 4") == []
    (refusal,) = await service.handle_text(PLATFORM, "chan", None, OWNER, "/draft owl --n 4")
    assert "2 of your 6 images" in refusal
    assert len(presenter.threads) == 1 and len(await queued_jobs(redis)) == 1
    clock.now += 86400  # a new UTC day
    assert await service.handle_text(PLATFORM, "chan", None, OWNER, "/draft owl --n 4") == []
    assert len(await queued_jobs(redis)) == 2


# --- uploads ----------------------------------------------------------------------------------


async def test_an_uploaded_reference_is_validated_stored_and_sent_by_key(world: World) -> None:
    w = world
    data = png(1, (32, 32))
    text = "/draft fox --n 2 --sref ref.png"
    assert await w.service.handle_text(PLATFORM, "chan", None, OWNER, text, {"ref.png": data}) == []
    (job,) = await queued_jobs(w.redis)
    assert job.style_refs == [api.artifact_key(data)]
    assert w.service.read_artifact(job.style_refs[0]) == data
    # a known artifact key is kept as it is
    text = f"/draft owl --n 2 --cref {job.style_refs[0]}"
    assert await w.service.handle_text(PLATFORM, "chan", None, OWNER, text) == []
    assert (await queued_jobs(w.redis))[1].character_ref == job.style_refs[0]


def _bomb() -> bytes:
    buf = io.BytesIO()
    Image.new("1", (5000, 4000)).save(buf, format="PNG")  # 20 megapixels in a few kilobytes
    return buf.getvalue()


def _gif() -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (4, 4)).save(buf, format="GIF")
    return buf.getvalue()


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (b"just some text, not a picture", "not an image"),
        (b"\x89PNG\r\n\x1a\n" + b"\x00" * 11_000_000, "at most 10 MB"),
        (_bomb(), "at most 16 megapixels"),
        (_gif(), "is GIF"),
        (png(3)[:60], "could not be read"),
    ],
    ids=["not-an-image", "oversized", "decompression-bomb", "gif", "truncated"],
)
async def test_bad_uploads_are_refused_and_nothing_is_stored(
    world: World, data: bytes, expected: str, tmp_data_dir: Path
) -> None:
    w = world
    (reply,) = await w.service.handle_text(
        PLATFORM, "chan", None, OWNER, "/draft fox --sref a.png", {"a.png": data}
    )
    assert expected in reply and "'a.png'" in reply
    assert w.presenter.threads == [] and await queued_jobs(w.redis) == []
    assert [p for p in (tmp_data_dir / "artifacts").rglob("*") if p.is_file()] == []


async def test_a_url_or_unknown_name_is_not_an_image(world: World) -> None:
    w = world
    (reply,) = await w.service.handle_text(PLATFORM, "chan", None, OWNER, "/draft fox --sref http://x")
    assert reply == "--sref needs an uploaded image; 'http://x' is not one of this message's attachments."
    (reply,) = await w.service.handle_text(
        PLATFORM, "chan", None, OWNER, "/draft fox --image b.png", {"a.png": png(1)}
    )
    assert "--image" in reply and "'b.png'" in reply


# --- results ----------------------------------------------------------------------------------


async def test_a_result_delivered_twice_is_applied_and_posted_once(
    world: World, second_client: aioredis.Redis
) -> None:
    w = world
    await w.service.handle_text(PLATFORM, "chan", None, OWNER, "/draft a red fox --n 4")
    (job,) = await queued_jobs(w.redis)
    result = finish(job, w.artifacts)
    for _ in range(2):
        await w.redis.xadd(api.RESULTS_STREAM, api.encode(result))  # type: ignore[arg-type]
    # two replicas, each with its own client, consume the stream at the same time
    replica_b = CampaignService(second_client, w.artifacts, {PLATFORM: w.presenter}, clock=w.clock)
    a = ResultConsumer(w.redis, "bot-a", count=1)
    b = ResultConsumer(second_client, "bot-b", count=1)
    await a.ensure_group()
    handled = await asyncio.gather(a.poll(w.service.apply_result), b.poll(replica_b.apply_result))
    assert sum(handled) == 2
    grids = w.presenter.grids()
    assert len(grids) == 1 and len(grids[0][0].images) == 4
    campaign = await w.service.campaign(job.campaign_id)
    assert campaign is not None
    assert sorted(campaign.candidates) == [1, 2, 3, 4]
    assert campaign.applied_results.count(job.job_id) == 1 and len(campaign.ledger) == 1
    # a third, late copy (after the group acknowledged the others) changes nothing either
    await w.service.apply_result(result)
    assert len(w.presenter.grids()) == 1
    assert await w.redis.exists(keys.seen("result", job.job_id))


# --- votes ------------------------------------------------------------------------------------


async def test_reactions_vote_unvote_and_bots_do_not_count(world: World) -> None:
    w = world
    campaign_id, message_id = await voting_campaign(w)
    alice, bot = User(id="alice"), User(id="bot", is_bot=True)
    assert await w.service.handle_reaction(PLATFORM, message_id, NUMBER_EMOJI[1], alice, True) is None
    assert await w.service.handle_reaction(PLATFORM, message_id, NUMBER_EMOJI[1], bot, True) is None
    assert await w.service.handle_reaction(PLATFORM, message_id, NUMBER_EMOJI[2], alice, True) is None
    assert await w.service.vote_counts(campaign_id, 1) == {1: 0, 2: 1, 3: 1, 4: 0}
    await w.service.handle_reaction(PLATFORM, message_id, NUMBER_EMOJI[2], alice, False)
    tally = await w.service.tally(campaign_id, 1)
    assert list(tally) == [2] and [u for u, _ in tally[2]] == ["alice"]
    # not a number under this grid / not a grid at all
    assert await w.service.handle_reaction(PLATFORM, message_id, NUMBER_EMOJI[7], alice, True) is None
    assert await w.service.handle_reaction(PLATFORM, message_id, "🎉", alice, True) is None
    assert await w.service.handle_reaction(PLATFORM, "unknown-msg", NUMBER_EMOJI[0], alice, True) is None
    assert await w.service.vote_counts(campaign_id, 1) == {1: 0, 2: 1, 3: 0, 4: 0}


async def test_a_reaction_delivered_twice_counts_once_and_a_vote_given_again_counts_again(
    world: World,
) -> None:
    w = world
    campaign_id, message_id = await voting_campaign(w)
    ana = User(id="ana")
    for _ in range(2):  # a platform retry, or a second replica receiving the same event
        await w.service.handle_reaction(PLATFORM, message_id, NUMBER_EMOJI[0], ana, True, event_id="e1")
    assert await w.service.vote_counts(campaign_id, 1) == {1: 1, 2: 0, 3: 0, 4: 0}
    await w.service.handle_reaction(PLATFORM, message_id, NUMBER_EMOJI[0], ana, False, event_id="e2")
    assert await w.service.vote_counts(campaign_id, 1) == {1: 0, 2: 0, 3: 0, 4: 0}
    await w.service.handle_reaction(PLATFORM, message_id, NUMBER_EMOJI[0], ana, True, event_id="e3")
    assert await w.service.vote_counts(campaign_id, 1) == {1: 1, 2: 0, 3: 0, 4: 0}
    await w.service.handle_text(PLATFORM, "chan", "thread-1", OWNER, "/select 1")
    late = [
        await w.service.handle_reaction(PLATFORM, message_id, NUMBER_EMOJI[1], ana, True, event_id="e4")
        for _ in range(2)
    ]
    assert late[0] is not None and "closed" in late[0] and late[1] is None  # one refusal, not two


async def test_quorum_closes_the_round_and_refines_the_winner(world: World) -> None:
    w = world
    campaign_id, message_id = await voting_campaign(w, "/draft fox --n 4 --quorum 2 --vote 10m")
    assert await w.redis.zscore(keys.DEADLINES, keys.deadline_member(campaign_id, 1)) is not None
    await w.service.handle_reaction(PLATFORM, message_id, NUMBER_EMOJI[2], User(id="a"), True)
    w.clock.now += 1
    await w.service.handle_reaction(PLATFORM, message_id, NUMBER_EMOJI[2], User(id="b"), True)
    campaign = await w.service.campaign(campaign_id)
    assert campaign is not None
    assert campaign.rounds[0].closed_by == "quorum" and campaign.rounds[0].winners == [3]
    assert await w.redis.zscore(keys.DEADLINES, keys.deadline_member(campaign_id, 1)) is None
    refine = (await queued_jobs(w.redis))[-1]
    assert refine.kind == "refine" and refine.seeds == [campaign.candidates[3].seed]
    late = await w.service.handle_reaction(PLATFORM, message_id, NUMBER_EMOJI[0], User(id="c"), True)
    assert late is not None and "closed" in late


_VOTER = textwrap.dedent(
    """
    import asyncio, sys
    import redis.asyncio as aioredis
    from pathlib import Path
    from bot.core.messages import NUMBER_EMOJI
    from bot.core.model import ThreadRef, User
    from bot.service import CampaignService
    from engine.artifacts import ArtifactStore

    class Silent:
        platform = "web"
        async def open_thread(self, channel_id, title):
            raise AssertionError("no thread expected")
        async def post(self, thread, message, log):
            return "unused"
        async def post_status(self, thread, text):
            return "unused"
        async def edit_status(self, thread, message_id, text):
            pass

    async def main(url, message_id, first, last, artifacts):
        client = aioredis.Redis.from_url(url)
        service = CampaignService(client, ArtifactStore(Path(artifacts)), {"web": Silent()})
        await client.blpop(["test:go"])

        async def one(i):
            user = User(id=f"user{i}")
            mine = NUMBER_EMOJI[i % 4]
            await service.handle_reaction("web", message_id, mine, user, True)
            if i % 5 == 0:  # a duplicate reaction event with its own id
                await service.handle_reaction("web", message_id, mine, user, True)
            if i % 7 == 0:  # a second vote, taken back
                other = NUMBER_EMOJI[(i + 1) % 4]
                await service.handle_reaction("web", message_id, other, user, True)
                await service.handle_reaction("web", message_id, other, user, False)
            if i % 3 == 0:  # a platform retry of the same event
                await service.handle_reaction("web", message_id, mine, user, True, event_id=f"retry-{i}")
                await service.handle_reaction("web", message_id, mine, user, True, event_id=f"retry-{i}")

        await asyncio.gather(*(one(i) for i in range(first, last)))
        await client.aclose()

    asyncio.run(main(sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), sys.argv[5]))
    """
)


async def test_fifty_users_voting_from_two_processes_are_counted_exactly(
    world: World, redis_server: EmbeddedRedis, tmp_data_dir: Path
) -> None:
    w = world
    campaign_id, message_id = await voting_campaign(w)
    procs = [
        await asyncio.create_subprocess_exec(
            sys.executable,
            "-c",
            _VOTER,
            redis_server.url,
            message_id,
            str(lo),
            str(lo + 25),
            str(w.artifacts.root),
        )
        for lo in (0, 25)
    ]
    await w.redis.rpush("test:go", "a", "b")  # both start voting together
    assert [await p.wait() for p in procs] == [0, 0]
    tally = await w.service.tally(campaign_id, 1)
    expected = {n: sorted(f"user{i}" for i in range(50) if i % 4 == n - 1) for n in (1, 2, 3, 4)}
    assert {n: sorted(u for u, _ in voters) for n, voters in tally.items()} == expected
    assert await w.service.vote_counts(campaign_id, 1) == {n: len(v) for n, v in expected.items()}


async def test_a_restarted_service_continues_votes_and_the_deadline_closes_the_round(
    redis: aioredis.Redis, redis_server: EmbeddedRedis, artifacts: ArtifactStore
) -> None:
    first_client = aioredis.Redis.from_url(redis_server.url)
    presenter, clock = RecordingPresenter(), Clock()
    first = World(
        first_client,
        artifacts,
        presenter,
        clock,
        CampaignService(first_client, artifacts, {PLATFORM: presenter}, clock=clock),
    )
    campaign_id, message_id = await voting_campaign(first)
    for user in ("a", "b", "c"):
        await first.service.handle_reaction(PLATFORM, message_id, NUMBER_EMOJI[3], User(id=user), True)
    await first_client.aclose()  # the replica goes away mid-vote

    presenter2 = RecordingPresenter()
    service = CampaignService(redis, artifacts, {PLATFORM: presenter2}, clock=clock)
    for user in ("d", "e"):
        await service.handle_reaction(PLATFORM, message_id, NUMBER_EMOJI[0], User(id=user), True)
    assert await service.vote_counts(campaign_id, 1) == {1: 2, 2: 0, 3: 0, 4: 3}
    campaign = await service.campaign(campaign_id)
    assert campaign is not None and campaign.rounds[0].deadline is not None
    assert await service.close_due_rounds(campaign.rounds[0].deadline - 1) == 0
    clock.now = campaign.rounds[0].deadline + 1
    closing = [service.close_due_rounds(clock.now) for _ in range(3)]
    assert sorted(await asyncio.gather(*closing)) == [0, 0, 1]
    campaign = await service.campaign(campaign_id)
    assert campaign is not None
    assert campaign.rounds[0].closed_by == "deadline" and campaign.rounds[0].winners == [4]
    assert any("#4" in m.text for _, m, _ in presenter2.posts)
    assert [j.kind for j in await queued_jobs(redis)].count(JobKind.REFINE) == 1
    assert await redis.zcard(keys.DEADLINES) == 0


# --- concurrency between replicas -------------------------------------------------------------


async def test_two_replicas_changing_one_campaign_lose_no_update(
    world: World, second_client: aioredis.Redis
) -> None:
    w = world
    campaign_id, _ = await voting_campaign(w)
    replica_b = CampaignService(second_client, w.artifacts, {PLATFORM: w.presenter}, clock=w.clock)
    thread = "thread-1"
    a_cmds = ["/settings quorum 3", "/settings vote 45m", "/settings n 6", "/settings budget 10m"]
    b_cmds = ["/settings top 2", "/settings ar 16:9", "/settings preset preview"]
    calls = [w.service.handle_text(PLATFORM, "chan", thread, OWNER, t) for t in a_cmds]
    calls += [replica_b.handle_text(PLATFORM, "chan", thread, OWNER, t) for t in b_cmds]
    await asyncio.gather(*calls)
    campaign = await w.service.campaign(campaign_id)
    assert campaign is not None
    s = campaign.settings
    assert (s.quorum, s.vote_seconds, s.n, s.budget_seconds) == (3, 2700, 6, 600.0)
    assert (s.top_k, s.aspect, s.preset) == (2, (16, 9), "preview")


async def test_jobs_enqueued_by_racing_replicas_are_all_in_the_saved_campaign(
    world: World, second_client: aioredis.Redis
) -> None:
    w = world
    campaign_id, _ = await voting_campaign(w)
    replica_b = CampaignService(second_client, w.artifacts, {PLATFORM: w.presenter}, clock=w.clock)
    services = [w.service, replica_b]
    await asyncio.gather(
        *(
            services[i % 2].handle_text(PLATFORM, "chan", "thread-1", OWNER, f"/faces {i % 4 + 1}")
            for i in range(6)
        )
    )
    upscales = [j for j in await queued_jobs(w.redis) if j.kind == "restore_faces"]
    campaign = await w.service.campaign(campaign_id)
    assert campaign is not None
    assert len({j.job_id for j in upscales}) == 6
    assert {j.job_id for j in upscales} == {
        p.job_id for p in campaign.pending.values() if p.kind == "restore_faces"
    }


# --- buttons, retention, stats, loops -----------------------------------------------------------


async def test_a_button_works_after_a_restart(world: World, second_client: aioredis.Redis) -> None:
    w = world
    await voting_campaign(w)
    grid, _ = w.presenter.grids()[0]
    buttons = grid.buttons + [b for image in grid.images for b in image.buttons]
    vary = next(b.action_id for b in buttons if b.action_id.startswith("dl:vary:"))
    fresh = CampaignService(second_client, w.artifacts, {PLATFORM: w.presenter}, clock=w.clock)
    assert await fresh.handle_action(PLATFORM, vary, OWNER, event_id="click-1") == []
    assert await fresh.handle_action(PLATFORM, vary, OWNER, event_id="click-1") == []
    jobs = await queued_jobs(w.redis)
    assert [j.kind for j in jobs] == ["draft", "variation"]
    (gone,) = await fresh.handle_action(PLATFORM, "dl:vary:nocampaign:1", OWNER)
    assert "no longer exists" in gone


async def test_a_cancelled_campaign_expires_after_the_retention(world: World) -> None:
    w = world
    campaign_id, message_id = await voting_campaign(w)
    await w.service.handle_reaction(PLATFORM, message_id, NUMBER_EMOJI[0], User(id="a"), True)
    owned = [
        keys.campaign(campaign_id),
        keys.thread(PLATFORM, "chan", "thread-1"),
        keys.message(PLATFORM, message_id),
        keys.votes(campaign_id, 1, 1),
    ]
    assert [await w.redis.ttl(k) for k in owned] == [-1] * 4
    await w.service.handle_text(PLATFORM, "chan", "thread-1", OWNER, "/cancel")
    campaign = await w.service.campaign(campaign_id)
    assert campaign is not None and campaign.stage is Stage.CANCELLED
    ttls = [await w.redis.ttl(k) for k in owned]
    assert all(0 < t <= 5000 for t in ttls), ttls
    assert await w.redis.zcard(keys.DEADLINES) == 0


async def test_engine_stats_report_queues_workers_and_counters(world: World) -> None:
    w = world
    await w.service.handle_text(PLATFORM, "chan", None, OWNER, "/draft fox --n 2")
    beat = api.WorkerBeat(worker="gpu0", device="cpu", model="tiny-sd", at=w.service.clock())
    await w.redis.hset(api.WORKERS_KEY, "gpu0", beat.model_dump_json())
    dead = api.WorkerBeat(worker="gpu1", device="cpu", model="tiny-sd", at=w.service.clock() - 3600)
    await w.redis.hset(api.WORKERS_KEY, "gpu1", dead.model_dump_json())
    await w.redis.hset(api.STATS_KEY, mapping={"jobs": 3, "device_ms": 1500})
    stats = await w.service.engine_stats()
    assert stats["lanes"] == {
        "interactive": {"length": 1, "waiting": 1, "pending": 0},
        "scheduled": {"length": 0, "waiting": 0, "pending": 0},
    }
    assert stats["workers"] == {"gpu0": beat.model_dump()}  # a worker silent for an hour is gone
    assert stats["counters"] == {"jobs": 3.0, "device_ms": 1500.0}
    # reading wrote nothing: no stream or group made, the silent worker's heartbeat is still there
    assert not await w.redis.exists(api.jobs_stream("scheduled"))
    assert await w.redis.hexists(api.WORKERS_KEY, "gpu1")
    assert await w.service.forget_silent_workers(w.service.clock()) == 1
    assert not await w.redis.hexists(api.WORKERS_KEY, "gpu1")
    assert await w.redis.hexists(api.WORKERS_KEY, "gpu0")
    await w.redis.xgroup_create(api.jobs_stream("interactive"), api.ENGINE_GROUP, id="0", mkstream=True)
    await w.redis.xreadgroup(api.ENGINE_GROUP, "gpu0", {api.jobs_stream("interactive"): ">"}, count=1)
    lanes = (await w.service.engine_stats())["lanes"]
    assert lanes["interactive"] == {"length": 1, "waiting": 0, "pending": 1}  # type: ignore[index]
    entries: list[tuple[bytes, dict[bytes, bytes]]] = await w.redis.xrange(api.jobs_stream("interactive"))  # type: ignore[assignment]
    (entry,) = entries
    await w.redis.xclaim(
        api.jobs_stream("interactive"), api.ENGINE_GROUP, api.RETURNED_CONSUMER, 0, [entry[0]]
    )
    lanes = (await w.service.engine_stats())["lanes"]
    assert lanes["interactive"] == {"length": 1, "waiting": 1, "pending": 0}  # type: ignore[index]


async def test_the_loops_deliver_results_progress_and_deadlines(world: World) -> None:
    w = world
    await w.service.handle_text(PLATFORM, "chan", None, OWNER, "/draft fox --n 4 --vote 10m")
    (job,) = await queued_jobs(w.redis)
    silent = api.WorkerBeat(worker="gpu9", device="cpu", model="tiny-sd", at=w.clock.now - 3600)
    await w.redis.hset(api.WORKERS_KEY, "gpu9", silent.model_dump_json())
    stop = asyncio.Event()
    consumer = ResultConsumer(w.redis, "bot-loop", block_ms=100)
    loops = asyncio.create_task(run_service_loops(w.service, consumer, stop))
    progress = Progress(job_id=job.job_id, campaign_id=job.campaign_id, step=3, total=4)

    async def relayed() -> bool:
        await w.redis.publish(api.progress_channel(job.campaign_id), progress.model_dump_json())
        return any(text == "Drafting round 1… step 3/4 · 75%" for _, text in w.presenter.statuses)

    await until(relayed)
    await w.redis.xadd(api.RESULTS_STREAM, api.encode(finish(job, w.artifacts)))  # type: ignore[arg-type]

    async def posted() -> bool:
        return bool(w.presenter.grids())

    await until(posted)
    campaign = await w.service.campaign(job.campaign_id)
    assert campaign is not None and campaign.rounds[0].deadline is not None
    w.clock.now = campaign.rounds[0].deadline + 1

    async def closed() -> bool:
        c = await w.service.campaign(job.campaign_id)
        return c is not None and c.rounds[0].closed_by == "deadline"

    await until(closed)

    async def silent_worker_forgotten() -> bool:
        return not await w.redis.hexists(api.WORKERS_KEY, "gpu9")

    await until(silent_worker_forgotten)
    stop.set()
    await loops


# --- commands in a channel --------------------------------------------------------------------


async def test_help_status_and_cost_answer_in_a_channel_and_campaign_commands_say_where_they_work(
    world: World,
) -> None:
    w = world

    async def say(text: str, thread: str | None = None) -> str:
        (reply,) = await w.service.handle_text(PLATFORM, "chan", thread, User(id="bob"), text)
        return reply

    assert await say("/help") == help_text(None)
    assert await say("/help schedule add", thread="t-x") == help_text("schedule add")
    assert await say("/status") == (
        "There are no campaigns in this channel. "
        "Start one with `/draft <prompt>` in the channel: it opens a campaign thread."
    )
    assert await say("/cost") == "Nothing spent yet: no images have been made in this channel's campaigns."

    await voting_campaign(w, "/draft a red fox --n 4")
    w.clock.now += 10
    assert await w.service.handle_text(PLATFORM, "chan", None, OWNER, "/draft an owl at night --n 2") == []
    await w.service.handle_text(PLATFORM, "other", None, OWNER, "/draft a cat --n 3")
    owl, fox = [c.id[:6] for c in await w.service.campaigns_in_channel(PLATFORM, "chan")]
    status = (await say("/status")).splitlines()
    assert status[0] == "2 campaigns in this channel, newest first:"
    assert status[1] == f"• {owl} “an owl at night”: Drafting · round 1 · running: drafting round 1"
    assert status[2] == f"• {fox} “a red fox”: Voting · round 1"
    assert status[3] == "`/status --campaign <id>` shows one campaign's details."
    assert await say("/cost") == "This channel's 1 campaign spent 0.4s of device time on 4 images.\n" + (
        f"• {fox} “a red fox”: 0.4s on 4 images\n"
        "Drafting first saved 4.4s against full quality from the start."
    )
    await deliver(w)
    total = "This channel's 2 campaigns spent 0.8s of device time on 6 images."
    assert (await say("/cost")).startswith(total)

    # two live campaigns: a campaign command says which it could mean, and how to name one
    for text, name in (("/vary 2", "vary"), ("/settings quorum 3", "settings"), ("/cancel", "cancel")):
        lines = (await say(text)).splitlines()
        assert lines[0] == (
            f"/{name} could mean any of this channel's 2 live campaigns. Name one with --campaign <id>:"
        )
        assert lines[1:3] == [f"• {owl} “an owl at night”: Voting", f"• {fox} “a red fox”: Voting"]
        assert lines[3].startswith(f"Example: `/{name}") and lines[3].endswith(f"campaign {owl}`")
    assert len(w.presenter.threads) == 3
    assert await say("/status", thread="t-x") == await say("/status")  # a thread that holds no campaign


# --- progress and quorum after the fact -------------------------------------------------------


async def test_progress_of_a_job_that_is_no_longer_running_leaves_the_status_line_alone(world: World) -> None:
    w = world
    campaign_id, _ = await voting_campaign(w)
    campaign = await w.service.campaign(campaign_id)
    assert campaign is not None
    (draft_job,) = campaign.applied_results
    before = list(w.presenter.statuses)
    late = Progress(job_id=draft_job, campaign_id=campaign_id, step=3, total=4)
    await w.service.relay_progress(late)  # published by the worker before its result, relayed after it
    assert w.presenter.statuses == before
    await w.service.handle_text(PLATFORM, "chan", "thread-1", OWNER, "/refine 2")
    (refine,) = [j for j in await queued_jobs(w.redis) if j.kind == "refine"]
    await w.service.handle_text(PLATFORM, "chan", "thread-1", OWNER, "/cancel")
    before = list(w.presenter.statuses)
    await w.service.relay_progress(Progress(job_id=refine.job_id, campaign_id=campaign_id, step=1, total=9))
    assert w.presenter.statuses == before


async def test_a_retried_vote_closes_a_round_whose_quorum_was_reached_but_not_closed(world: World) -> None:
    w = world
    campaign_id, message_id = await voting_campaign(w, "/draft fox --n 4 --quorum 2 --vote 10m")
    await w.service.handle_reaction(PLATFORM, message_id, NUMBER_EMOJI[1], User(id="a"), True)
    # a replica stored b's vote and stopped before closing the round; the platform retries the event
    await w.service.votes.add(campaign_id, 1, 2, "b", w.clock.now)
    await w.service.handle_reaction(PLATFORM, message_id, NUMBER_EMOJI[1], User(id="b"), True, event_id="e1")
    campaign = await w.service.campaign(campaign_id)
    assert campaign is not None and campaign.rounds[0].closed_by == "quorum"
    assert campaign.rounds[0].winners == [2]


async def test_a_mistyped_model_is_answered_at_once_with_the_models_workers_know(world: World) -> None:
    w = world
    beat = api.WorkerBeat(
        worker="gpu0", device="cuda", model="sdxl", at=w.service.clock(), models=["sd15", "sdxl"]
    )
    await w.redis.hset(api.WORKERS_KEY, "gpu0", beat.model_dump_json())
    replies = await w.service.handle_text(PLATFORM, "chan", None, OWNER, "/draft a fox --model sdxll")
    assert replies and "sdxll" in replies[0] and "sd15, sdxl" in replies[0]
    assert w.presenter.threads == [] and await queued_jobs(w.redis) == []
    # a known name, and a hub id the worker will load itself, are accepted
    for model in ("sdxl", "stabilityai/sdxl-turbo"):
        assert (
            await w.service.handle_text(PLATFORM, "chan", None, OWNER, f"/draft a fox --model {model}") == []
        )
    assert [job.model for job in await queued_jobs(w.redis)] == ["sdxl", "stabilityai/sdxl-turbo"]


async def test_with_no_live_worker_a_model_name_waits_in_the_queue(world: World) -> None:
    w = world
    gone = api.WorkerBeat(
        worker="gpu0", device="cuda", model="sdxl", at=w.service.clock() - 600, models=["sdxl"]
    )
    await w.redis.hset(api.WORKERS_KEY, "gpu0", gone.model_dump_json())
    assert await w.service.handle_text(PLATFORM, "chan", None, OWNER, "/draft a fox --model sd15") == []
    assert [job.model for job in await queued_jobs(w.redis)] == ["sd15"]


# --- commands in a channel, phrased for each platform -----------------------------------------


def slack_world(w: World, platform: str = "slack") -> tuple[CampaignService, RecordingPresenter]:
    """The same Redis behind a service whose presenter is a Slack workspace (or ``platform``)."""
    slack = RecordingPresenter(platform=platform)
    service = CampaignService(w.redis, w.artifacts, {platform: slack}, clock=w.clock, retention_seconds=5000)
    return service, slack


async def slack_campaign(w: World, service: CampaignService, prompt: str, platform: str = "slack") -> str:
    """A Slack (or ``platform``) campaign in "chan" whose first round of 2 drafts is voting; its id."""
    assert await service.handle_text(platform, "chan", None, OWNER, f"/draft {prompt} --n 2") == []
    consumer = ResultConsumer(w.redis, f"bot-{platform}")
    await consumer.ensure_group()
    for job in await queued_jobs(w.redis):
        if not await w.redis.sismember("test:done", job.job_id):
            await w.redis.sadd("test:done", job.job_id)
            await w.redis.xadd(api.RESULTS_STREAM, api.encode(finish(job, w.artifacts)))  # type: ignore[arg-type]
    while await consumer.poll(service.apply_result):
        pass
    (campaign,) = [
        c for c in await service.campaigns_in_channel(platform, "chan") if c.settings.prompt == prompt
    ]
    assert campaign.stage is Stage.VOTING
    return campaign.id


async def test_a_slack_channel_command_acts_on_the_one_live_campaign_and_says_which(world: World) -> None:
    w = world
    service, slack = slack_world(w)
    (none,) = await service.handle_text("slack", "chan", None, OWNER, "/vary 999")
    assert none == (
        "/dl vary works on a campaign, and this channel has no live one. "
        "Start one with `/draft <prompt>` in the channel: it opens a campaign thread."
    )
    fox = await slack_campaign(w, service, "a red fox")
    jobs_before = len(await queued_jobs(w.redis))
    posts_before = len(slack.posts)
    # a refusal is phrased for the channel, naming the campaign, and goes only to the person who typed it
    (refused,) = await service.handle_text("slack", "chan", None, OWNER, "/inpaint 2 a scarf --faces")
    assert refused.startswith(
        f"On {fox[:6]} “a red fox”: #2 is a draft: /dl inpaint --campaign {fox[:6]} works on"
    )
    assert "/inpaint" not in refused and "@draftloop" not in refused
    assert all(refused not in m.text and "On " not in m.text for _, m, _ in slack.posts[posts_before:])
    # typed in the campaign's thread, the same refusal names the mention that works there
    (in_thread,) = await service.handle_text("slack", "chan", "thread-1", OWNER, "/inpaint 2 a scarf --faces")
    assert (
        "@draftloop inpaint works on refined images. Refine it first with @draftloop refine 2," in in_thread
    )
    (reply,) = await service.handle_text("slack", "chan", None, OWNER, "/vary 2 strong")
    assert reply == f"On {fox[:6]} “a red fox”: done; its thread shows the rest."
    variation = (await queued_jobs(w.redis))[jobs_before:]
    assert [(j.kind, j.campaign_id) for j in variation] == [(JobKind.VARIATION, fox)]


async def test_with_several_live_campaigns_a_channel_command_lists_them_or_takes_campaign(
    world: World,
) -> None:
    w = world
    service, _ = slack_world(w)
    fox = await slack_campaign(w, service, "a red fox")
    w.clock.now += 5
    owl = await slack_campaign(w, service, "an owl at night")
    before = await queued_jobs(w.redis)
    (which,) = await service.handle_text("slack", "chan", None, OWNER, "/faces 2")
    assert which.splitlines() == [
        "/dl faces could mean any of this channel's 2 live campaigns. Name one with --campaign <id>:",
        f"• {owl[:6]} “an owl at night”: Voting",
        f"• {fox[:6]} “a red fox”: Voting",
        f"Example: `/dl faces 2 --campaign {owl[:6]}`",
    ]
    assert await queued_jobs(w.redis) == before
    # by short id, and by words of the title
    (by_id,) = await service.handle_text("slack", "chan", None, OWNER, f"/faces 2 --campaign {fox[:6]}")
    assert by_id.startswith(f"On {fox[:6]} “a red fox”:")
    (by_title,) = await service.handle_text("slack", "chan", None, OWNER, "/status --campaign owl night")
    assert by_title.startswith(f"On {owl[:6]} “an owl at night”:") and "Round 1" in by_title
    assert [(j.kind, j.campaign_id) for j in (await queued_jobs(w.redis))[len(before) :]] == [
        (JobKind.RESTORE_FACES, fox)
    ]
    (nothing,) = await service.handle_text("slack", "chan", None, OWNER, "/cancel --campaign zebra")
    assert nothing.startswith("No campaign in this channel matches 'zebra': /dl status lists them")
    (both,) = await service.handle_text("slack", "chan", None, OWNER, "/cancel --campaign a")
    assert both.startswith("2 campaigns in this channel match 'a'. Name one with --campaign <id>:")
    for campaign_id in (fox, owl):
        campaign = await service.campaign(campaign_id)
        assert campaign is not None and campaign.stage is Stage.VOTING


async def test_the_channel_answers_name_what_exists_on_each_platform(world: World) -> None:
    w = world
    await voting_campaign(w, "/draft a red fox --n 4")
    service, _ = slack_world(w)
    await slack_campaign(w, service, "a red fox")
    w.clock.now += 5
    await slack_campaign(w, service, "an owl at night")
    (web_status,) = await w.service.handle_text(PLATFORM, "chan", None, OWNER, "/status")
    assert web_status.endswith("`/status --campaign <id>` shows one campaign's details.")
    (slack_status,) = await service.handle_text("slack", "chan", None, OWNER, "/status")
    assert slack_status.endswith("`/dl status --campaign <id>` shows one campaign's details.")
    (slack_help,) = await service.handle_text("slack", "chan", None, OWNER, "/help")
    assert "Example: /dl vary 3 strong" in slack_help and "Example: /draft a red fox" in slack_help
    (thread_help,) = await service.handle_text("slack", "chan", "thread-1", OWNER, "/help")
    assert "Example: @draftloop vary 3 strong" in thread_help and "/vary" not in thread_help
    (slack_error,) = await service.handle_text("slack", "chan", "thread-1", OWNER, "/vary 2 wild")
    assert slack_error.endswith("Example: `@draftloop vary 3 strong`")
    (web_error,) = await w.service.handle_text(PLATFORM, "chan", "thread-1", OWNER, "/vary 2 wild")
    assert web_error.endswith("Example: `/vary 3 strong`")


# --- buttons: checked like the typed command before anything is queued -----------------------


@pytest.mark.parametrize(
    ("action", "arg", "said"),
    [
        ("outpaint", "nan", "--zoom must be a number 1.1-4, got 'nan'"),
        ("outpaint", "1e200", "--zoom must be a number 1.1-4, got '1e200'"),
        ("outpaint", "inf", "--zoom must be a number 1.1-4"),
        ("outpaint", "1.0", "--zoom must be a number 1.1-4"),
        ("outpaint", "sideways", "--pan must be one of left, right, up, down"),
        ("upscale", "3", "<scale> must be 2 or 4"),
        ("vary", "wild", "<strength> must be one of subtle, strong"),
        ("refine", "9", "The refine button takes no value"),
        ("faces", "x", "The faces button takes no value"),
        ("inpaint-faces", "1", "The inpaint-faces button takes no value"),
    ],
)
async def test_a_button_with_a_value_the_command_would_refuse_queues_nothing(
    world: World, action: str, arg: str, said: str
) -> None:
    w = world
    campaign_id, _ = await voting_campaign(w)
    await w.service.handle_text(PLATFORM, "chan", "thread-1", OWNER, "/select 2")
    await deliver(w)
    before, posts = await queued_jobs(w.redis), len(w.presenter.posts)
    (answer,) = await w.service.handle_action(PLATFORM, f"dl:{action}:{campaign_id}:5:{arg}", OWNER)
    assert answer.startswith("That button can't be used: ") and said in answer
    assert await queued_jobs(w.redis) == before and len(w.presenter.posts) == posts


@pytest.mark.parametrize("number", ["999", "0", "-5", "12345"])
async def test_a_button_for_a_number_that_is_not_a_candidate_queues_nothing(
    world: World, number: str
) -> None:
    w = world
    campaign_id, _ = await voting_campaign(w)
    before, posts = await queued_jobs(w.redis), len(w.presenter.posts)
    (answer,) = await w.service.handle_action(PLATFORM, f"dl:upscale:{campaign_id}:{number}:2", OWNER)
    assert answer.startswith("That button can't be used: ")
    assert await queued_jobs(w.redis) == before and len(w.presenter.posts) == posts


async def test_a_button_takes_exactly_the_values_its_typed_command_takes(world: World) -> None:
    w = world
    campaign_id, _ = await voting_campaign(w)
    await w.service.handle_text(PLATFORM, "chan", "thread-1", OWNER, "/select 2")
    await deliver(w)
    for action, arg, kind in (
        ("outpaint", "2", "outpaint"),
        ("upscale", "x2", "upscale"),
        ("vary", "strong", "variation"),
    ):
        await deliver(w)
        before = len(await queued_jobs(w.redis))
        assert await w.service.handle_action(PLATFORM, f"dl:{action}:{campaign_id}:5:{arg}", OWNER) == []
        (job,) = (await queued_jobs(w.redis))[before:]
        assert job.kind == kind


async def test_in_a_campaign_thread_campaign_must_name_that_campaign(world: World) -> None:
    w = world
    campaign_id, _ = await voting_campaign(w)
    before = await queued_jobs(w.redis)
    (other,) = await w.service.handle_text(PLATFORM, "chan", "thread-1", OWNER, "/vary 2 --campaign zebra")
    assert other == (
        f"This thread holds {campaign_id[:6]} “a red fox”, and --campaign 'zebra' names another: "
        "leave --campaign out here, or type the command in the channel."
    )
    assert await queued_jobs(w.redis) == before
    assert await w.service.handle_text(PLATFORM, "chan", "thread-1", OWNER, "/vary 2 --campaign fox") == []
    assert len(await queued_jobs(w.redis)) == len(before) + 1


@pytest.mark.parametrize("platform", ["discord", "slack", "web"])
async def test_channel_answers_name_only_commands_that_exist_on_each_platform(
    world: World, platform: str
) -> None:
    w = world
    service, _ = slack_world(w, platform)

    async def say(text: str) -> str:
        (reply,) = await service.handle_text(platform, "chan", None, OWNER, text)
        assert_typeable(reply, platform, "channel")
        return reply

    assert "has no live one" in await say("/vary 999")
    assert "no campaigns in this channel" in await say("/status")
    await slack_campaign(w, service, "a red fox", platform)
    w.clock.now += 5
    await slack_campaign(w, service, "an owl at night", platform)
    assert "could mean any of this channel's 2 live campaigns" in await say("/vary 2")
    assert "2 campaigns in this channel" in await say("/status")
    assert await say("/help")
    assert "Example: `" in await say("/vary 2 wild")
