"""The loop as a team meets it, through the service: who may close a round, branches beside a vote,
regions, big rounds, votes people can read, and the machine's score beside the team's."""

from __future__ import annotations

import io

import pytest
from PIL import Image

from bot.core.messages import NUMBER_EMOJI, Message, MessageKind
from bot.core.model import Campaign, Stage, User
from bot.usecases.jobs import ResultConsumer
from engine import api
from engine.api import ImageOut, Job, JobKind, Progress, Result
from tests.test_service import OWNER, PLATFORM, World, artifacts, done, queued_jobs, world

__all__ = ["artifacts", "world"]  # the fixtures this module uses

BEN = User(id="ben", name="Ben")
CHLOE = User(id="chloe", name="Chloe")
DAN = User(id="dan", name="Dan")
THREAD = "thread-1"
REFINED_SIZE = (64, 40)  # the size of the README's refined image


def png(seed: int, size: tuple[int, int]) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", size, (seed % 256, 9, 7)).save(buf, format="PNG")
    return buf.getvalue()


def result(w: World, job: Job, scores: dict[int, float]) -> Result:
    """What an engine worker sends back: drafts 8x8 (scored by seed), refined and edited images 64x40."""
    size = (8, 8) if job.kind in ("draft", "variation", "img2img") else REFINED_SIZE
    images = [
        ImageOut(
            artifact=w.artifacts.put(png(seed, size)),
            seed=seed,
            width=size[0],
            height=size[1],
            score=scores.get(index) if job.kind == "draft" else None,
        )
        for index, seed in enumerate(job.seeds)
    ]
    return done(job, images)


async def deliver(w: World, scores: dict[int, float] | None = None) -> None:
    consumer = ResultConsumer(w.redis, "bot-team")
    await consumer.ensure_group()
    for job in await queued_jobs(w.redis):
        if not await w.redis.sismember("test:done", job.job_id):
            await w.redis.sadd("test:done", job.job_id)
            await w.redis.xadd(api.RESULTS_STREAM, api.encode(result(w, job, scores or {})))  # type: ignore[arg-type]
    while await consumer.poll(w.service.apply_result):
        pass


async def say(w: World, text: str, user: User = OWNER) -> list[str]:
    return await w.service.handle_text(PLATFORM, "chan", THREAD, user, text)


async def campaign_of(w: World) -> Campaign:
    (campaign,) = await w.service.campaigns_in_channel(PLATFORM, "chan")
    return campaign


async def start(
    w: World, flags: str = "--n 4 --vote 10m", scores: dict[int, float] | None = None
) -> Campaign:
    assert await w.service.handle_text(PLATFORM, "chan", None, OWNER, f"/draft a red fox {flags}") == []
    await deliver(w, scores)
    campaign = await campaign_of(w)
    assert campaign.stage is Stage.VOTING
    return campaign


def grids(w: World, round_no: int) -> list[tuple[Message, str]]:
    return [(m, mid) for m, mid in w.presenter.grids() if m.round_no == round_no]


def texts_since(w: World, before: int) -> list[str]:
    return [m.text for _, m, _ in w.presenter.posts[before:] if m.kind is MessageKind.TEXT]


async def vote(w: World, round_no: int, position: int, user: User, grid: int = 0) -> str | None:
    _, message_id = grids(w, round_no)[grid]
    return await w.service.handle_reaction(PLATFORM, message_id, NUMBER_EMOJI[position], user, added=True)


async def refined(w: World) -> int:
    """A campaign with one refined image (and its round closed by the owner's pick): its number."""
    await start(w)
    assert await say(w, "/select 2") == []
    await deliver(w)
    campaign = await campaign_of(w)
    assert campaign.stage is Stage.EDITING
    return max(campaign.candidates)


# --- 1. one person's click changes the round for everyone ----------------------------------------


async def test_a_variation_during_the_vote_runs_beside_it_and_every_vote_still_counts(world: World) -> None:
    w = world
    c = await start(w)
    assert await vote(w, 1, 0, BEN) is None
    before = len(w.presenter.posts)
    # Ben is not the owner: his "V1 subtle" button starts a branch, and round 1 stays open
    assert await w.service.handle_action(PLATFORM, f"dl:vary:{c.id}:1:subtle", BEN) == []
    c = await campaign_of(w)
    assert c.rounds[0].open and c.rounds[0].closed_by is None and c.stage is Stage.VOTING
    assert c.rounds[1].beside == 1 and c.rounds[1].kind == "variation"
    assert texts_since(w, before) == [
        "Ben asked for subtle variations of #1: round 2 runs beside round 1's vote, which stays open."
    ]
    await deliver(w)
    assert len(grids(w, 2)) == 1  # the branch's own grid, voted on as its own round
    c = await campaign_of(w)
    assert c.rounds[0].open and c.rounds[1].open
    assert await vote(w, 1, 0, CHLOE) is None
    assert await vote(w, 2, 1, CHLOE) is None
    # round 1 closes at its deadline with Ben's and Chloe's votes, and says how and what they did
    before = len(w.presenter.posts)
    w.clock.now += 601
    assert await w.service.close_due_rounds(w.clock.now) == 2
    said = texts_since(w, before)
    assert "Round 1 closed at its deadline with 2 votes from 2 people: the team picked #1 (2 votes). " in (
        said[0] + " "
    )
    assert said[1].startswith("Round 2 closed at its deadline with 1 vote from 1 person: the team picked #6")
    refines = [j for j in await queued_jobs(w.redis) if j.kind == JobKind.REFINE]
    assert [j.init_image for j in refines] == [c.candidates[1].artifact, c.candidates[6].artifact]


async def test_only_the_owner_an_approver_or_the_quorum_closes_a_round(world: World) -> None:
    w = world
    c = await start(w, "--n 4 --vote 10m --quorum 2")
    jobs_before = len(await queued_jobs(w.redis))
    (refused,) = await w.service.handle_action(PLATFORM, f"dl:refine:{c.id}:3", BEN)
    assert refused.startswith("Refining #3 now would end round 1's vote early: only the owner or an approver")
    assert "react with 3️⃣" in refused
    assert len(await queued_jobs(w.redis)) == jobs_before
    # a new round asked for by someone else runs beside the vote instead of closing it
    before = len(w.presenter.posts)
    assert await say(w, "/reroll", CHLOE) == []
    assert texts_since(w, before) == [
        "Chloe started round 2 with /reroll: it runs beside round 1's vote, which stays open (only the owner "
        "or an approver can close a round early)."
    ]
    assert len(await queued_jobs(w.redis)) == jobs_before + 1
    c = await campaign_of(w)
    assert c.rounds[0].open and c.rounds[1].beside == 1 and c.stage is Stage.VOTING
    # the quorum closes it: two people voted
    assert await vote(w, 1, 2, BEN) is None
    assert await vote(w, 1, 2, CHLOE) is None
    c = await campaign_of(w)
    assert not c.rounds[0].open and c.rounds[0].closed_by == "quorum" and c.rounds[0].winners == [3]


async def test_a_draft_offers_refine_and_its_upscale_asks_to_refine_first(world: World) -> None:
    w = world
    c = await start(w)
    (grid, _), *_ = grids(w, 1)
    labels = [b.label for image in grid.images for b in image.buttons]
    assert "Refine 1" in labels and not any(label.startswith("Upscale") for label in labels)
    jobs_before = len(await queued_jobs(w.redis))
    # a stale or hand-made upscale button on a draft: asked to refine first, nothing delivered
    (answer,) = await w.service.handle_action(PLATFORM, f"dl:upscale:{c.id}:1", CHLOE)
    assert answer.startswith(
        "#1 is a draft: /upscale works on refined images. Refine it first with /refine 1"
    )
    (typed,) = await say(w, "/upscale 1 4", CHLOE)
    assert typed.startswith("#1 is a draft")
    assert len(await queued_jobs(w.redis)) == jobs_before
    assert (await campaign_of(w)).deliverables == []


async def test_a_pick_by_the_owner_says_what_happened_to_the_votes(world: World) -> None:
    w = world
    await start(w)
    assert await vote(w, 1, 0, BEN) is None
    assert await vote(w, 1, 1, CHLOE) is None
    before = len(w.presenter.posts)
    assert await say(w, "/select 4") == []
    assert texts_since(w, before) == [
        "Olga selected #4 in round 1: refining. The round's 2 votes from 2 people were set aside."
    ]
    await deliver(w)
    before = len(w.presenter.posts)
    assert await say(w, "/draft a grey wolf") == []
    await deliver(w)
    assert await vote(w, 2, 0, BEN) is None
    assert await say(w, "/draft a white owl") == []
    assert texts_since(w, before)[-1] == (
        "Round 2 closed: Olga started round 3 with /draft, so its 1 vote from 1 person were set aside "
        "(not counted)."
    )


# --- 2. edits on a refined image while another round's vote is open ------------------------------


async def test_an_edit_of_a_refined_image_runs_while_another_rounds_vote_is_open(world: World) -> None:
    w = world
    number = await refined(w)
    assert await say(w, f"/vary {number} strong") == []
    await deliver(w)
    c = await campaign_of(w)
    assert c.stage is Stage.VOTING and c.rounds[-1].open
    before = len(await queued_jobs(w.redis))
    assert await say(w, f"/inpaint {number} a red door --box 25%,25%,50%,50%", BEN) == []
    (job,) = (await queued_jobs(w.redis))[before:]
    assert job.kind == JobKind.INPAINT and job.mask is not None and job.mask.box == (16, 10, 32, 20)
    assert await say(w, f"/outpaint {number} --pan left", BEN) == []
    assert (await campaign_of(w)).rounds[-1].open


# --- 3. regions: percent or pixels, checked against the image before queueing --------------------


async def test_a_box_that_does_not_fit_is_refused_privately_with_the_images_size(world: World) -> None:
    w = world
    number = await refined(w)
    before_jobs, before_posts = len(await queued_jobs(w.redis)), len(w.presenter.posts)
    (refused,) = await say(w, f"/inpaint {number} a red door --box 40,60,32,48")
    assert refused.startswith(f"The box 40,60,32,48 doesn't fit inside #{number}, which is 64x40 pixels")
    assert "--box 16,10,32,20" in refused and "25%,25%,50%,50%" in refused
    assert len(await queued_jobs(w.redis)) == before_jobs and len(w.presenter.posts) == before_posts
    (bad,) = await say(w, f"/inpaint {number} a red door --box 80%,10%,30%,30%")
    assert "--box" in bad and "percent" in bad
    assert await say(w, f"/inpaint {number} a red door --box 10%,20%,30%,40%") == []
    (job,) = (await queued_jobs(w.redis))[before_jobs:]
    assert job.mask is not None and job.mask.box == (6, 8, 19, 16)


async def test_refined_images_offer_zoom_out_and_pan_buttons_that_work(world: World) -> None:
    w = world
    number = await refined(w)
    c = await campaign_of(w)
    (edit,) = [m for _, m, _ in w.presenter.posts if m.images and m.images[0].number == number]
    labels = [b.label for b in edit.images[0].buttons]
    wanted = [f"Zoom out 1.5x {number}", f"Zoom out 2x {number}"] + [f"Pan {a} {number}" for a in "⬅➡⬆⬇"]
    assert all(label in labels for label in wanted)
    before = len(await queued_jobs(w.redis))
    for arg in ("2", "up"):
        assert await w.service.handle_action(PLATFORM, f"dl:outpaint:{c.id}:{number}:{arg}", OWNER) == []
        await deliver(w)
    zoom, pan = (await queued_jobs(w.redis))[before:]
    assert (zoom.kind, zoom.zoom, pan.pan) == (JobKind.OUTPAINT, 2.0, "up")


# --- 4. the stage after a round closes with no votes ---------------------------------------------


async def test_a_round_that_closes_with_no_votes_leaves_voting(world: World) -> None:
    w = world
    c = await start(w)
    w.clock.now += 601
    assert await w.service.close_due_rounds(w.clock.now) == 1
    c = await campaign_of(w)
    assert c.stage is Stage.PICKING and not c.rounds[0].open
    assert not w.presenter.statuses[-1][1].startswith("Voting")
    (status,) = await say(w, "/status")
    assert "Round 1 (draft): closed at its deadline" in status and "open for voting" not in status
    assert await vote(w, 1, 0, BEN) == "Round 1 is closed with no winners."
    assert await say(w, "/refine 2", BEN) == []
    assert (await campaign_of(w)).stage is Stage.REFINING


# --- 6. big rounds: 30 drafts in grids of ten, each grid with its own reactions ------------------


async def test_a_round_of_thirty_is_three_grids_each_voting_for_its_own_candidates(world: World) -> None:
    w = world
    c = await start(w, "--n 30 --top 5 --vote 10m")
    # one engine job per grid: a big round batches with other work instead of one call of thirty
    assert [len(j.seeds) for j in await queued_jobs(w.redis)] == [10, 10, 10]
    shown = grids(w, 1)
    assert [m.grid_index for m, _ in shown] == [0, 1, 2]
    assert all(m.reactions == list(NUMBER_EMOJI) for m, _ in shown)
    assert [[i.number for i in m.images] for m, _ in shown] == [
        list(range(1, 11)),
        list(range(11, 21)),
        list(range(21, 31)),
    ]
    assert "grid 2 of 3: #11–#20" in shown[1][0].text
    assert await vote(w, 1, 2, BEN, grid=1) is None  # 3️⃣ on the second grid: #13
    assert await vote(w, 1, 9, CHLOE, grid=2) is None  # 🔟 on the third grid: #30
    assert await vote(w, 1, 9, DAN, grid=2) is None
    assert (await w.service.tally(c.id, 1)).keys() == {13, 30}
    w.clock.now += 601
    await w.service.close_due_rounds(w.clock.now)
    c = await campaign_of(w)
    assert c.rounds[0].winners == [30, 13] and c.settings.top_k == 5


# --- 7. votes people can read ----------------------------------------------------------------------


async def test_the_status_line_counts_down_names_voters_the_leader_and_ties(world: World) -> None:
    w = world
    w.clock.now = 1_800_000_000.0  # 08:00 UTC
    await start(w, "--n 4 --vote 30m --quorum 3")
    assert await vote(w, 1, 2, BEN) is None
    w.clock.now += 5 * 60
    assert await vote(w, 1, 0, CHLOE) is None
    line = w.presenter.statuses[-1][1]
    assert line == (
        "Voting · round 1: 2 of 3 voted · #3 and #1 tie at 1 vote (the earliest vote breaks it: #3) · "
        "closes 08:30 UTC, in 25 min"
    )
    w.clock.now += 60
    assert (
        await w.service.handle_reaction(PLATFORM, grids(w, 1)[0][1], NUMBER_EMOJI[0], CHLOE, added=False)
        is None
    )
    assert await vote(w, 1, 2, CHLOE) is None
    assert w.presenter.statuses[-1][1] == (
        "Voting · round 1: 2 of 3 voted · #3 leads with 2 votes · closes 08:30 UTC, in 24 min"
    )
    (status,) = await say(w, "/status")
    assert "Round 1 (draft): open for voting: 2 of 3 voted · #3 leads with 2 votes" in status


async def test_a_tie_settled_at_the_close_is_named(world: World) -> None:
    w = world
    await start(w)
    assert await vote(w, 1, 3, BEN) is None
    w.clock.now += 1
    assert await vote(w, 1, 1, CHLOE) is None
    before = len(w.presenter.posts)
    w.clock.now += 601
    await w.service.close_due_rounds(w.clock.now)
    (closed, *_) = texts_since(w, before)
    assert closed == (
        "Round 1 closed at its deadline with 2 votes from 2 people: the team picked #4 (1 vote). "
        "#4 and #2 tied at 1 vote: #4 got its first vote earlier, so it goes on. Refining at full quality."
    )


@pytest.mark.parametrize(("command", "label"), [("/upscale {n} 4", "Upscaling"), ("/faces {n}", "Restoring")])
async def test_progress_shows_a_percentage_and_an_estimate_for_every_job(
    world: World, command: str, label: str
) -> None:
    w = world
    number = await refined(w)
    before = len(await queued_jobs(w.redis))
    assert await say(w, command.format(n=number)) == []
    (job,) = (await queued_jobs(w.redis))[before:]
    started = Progress(job_id=job.job_id, campaign_id=job.campaign_id, step=0, total=1)
    await w.service.relay_progress(started)
    assert w.presenter.statuses[-1][1].endswith(f"#{number}… started · 0%")
    w.clock.now += 10
    progress = Progress(job_id=job.job_id, campaign_id=job.campaign_id, step=1, total=3)
    await w.service.relay_progress(progress)
    assert w.presenter.statuses[-1][1].startswith(f"{label}")
    assert w.presenter.statuses[-1][1].endswith(f"#{number}… step 1/3 · 33% · about 20s left")


# --- the machine's opinion beside the team's -------------------------------------------------------


async def test_drafts_show_their_score_and_a_silent_round_can_advance_the_top_scored(world: World) -> None:
    w = world
    c = await start(w, "--n 4 --vote 10m", scores={0: 4.5, 1: 7.25, 2: 6.0, 3: 2.0})
    (grid, _), *_ = grids(w, 1)
    assert grid.images[1].caption == f"#2 · seed {c.candidates[2].seed} · draft · score 7.2"
    (status,) = await say(w, "/status")
    assert "Aesthetic score, a hint beside the votes: #2 (7.2), #3 (6.0), #1 (4.5)." in status
    (settings,) = await say(w, "/settings novotes scores top 2")
    assert "no votes: the top-scored drafts go on" in settings
    before = len(w.presenter.posts)
    w.clock.now += 601
    await w.service.close_due_rounds(w.clock.now)
    c = await campaign_of(w)
    assert c.rounds[0].closed_by == "scores" and c.rounds[0].winners == [2, 3] and c.stage is Stage.REFINING
    assert texts_since(w, before)[0] == (
        "Round 1 closed at its deadline with no votes, so its top-scored drafts go on: #2 (score 7.2), "
        "#3 (score 6.0). Refining at full quality."
    )
