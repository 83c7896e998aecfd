"""The campaign state machine, driven the way the service drives it: commands, results, round closes."""

from __future__ import annotations

import hashlib
from collections.abc import Callable

import pytest

from bot.core import commands as cmds
from bot.core import render
from bot.core.buttons import action_id
from bot.core.effects import CancelJobs, CloseVoting, Effect, Enqueue, OpenVoting, Post, Reply
from bot.core.events import CloseRound, CommandEvent, ResultEvent
from bot.core.grammar import help_text
from bot.core.ledger import DRAFT_KINDS
from bot.core.machine import apply, new_campaign
from bot.core.messages import NUMBER_EMOJI, Button, Message, MessageKind
from bot.core.model import Campaign, Candidate, Stage, ThreadRef, User
from engine.api import ImageOut, Job, JobKind, LoraSpec, Result

THREAD = ThreadRef(platform="discord", channel_id="ch1", thread_id="th1")
OWNER = User(id="u-ana", name="Ana")
MEMBER = User(id="u-ben", name="Ben")
APPROVER = User(id="u-cy", name="Cy", is_approver=True)
T0 = 1_700_000_000.0
SIZES = {JobKind.REFINE: (1344, 768), JobKind.UPSCALE: (5376, 3072)}


def key(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def run(
    c: Campaign, command: cmds.Command, user: User = OWNER, now: float = T0
) -> tuple[Campaign, list[Effect]]:
    return apply(c, CommandEvent(user=user, command=command), now)


def jobs(effects: list[Effect]) -> list[Job]:
    return [e.job for e in effects if isinstance(e, Enqueue)]


def posts(effects: list[Effect]) -> list[Post]:
    return [e for e in effects if isinstance(e, Post)]


def buttons(message: Message) -> list[Button]:
    """Every button a message shows: its own and each image's."""
    return message.buttons + [b for image in message.images for b in image.buttons]


def result_for(job: Job, seconds: float = 2.0) -> Result:
    w, h = SIZES.get(job.kind, (512, 512))
    images = [ImageOut(artifact=key(f"{job.job_id}/{s}"), seed=s, width=w, height=h) for s in job.seeds]
    return Result(
        job_id=job.job_id,
        campaign_id=job.campaign_id,
        kind=job.kind,
        ok=True,
        images=images,
        device_seconds=seconds,
    )


def failed(job: Job, reason: str = "out of GPU memory") -> Result:
    return Result(
        job_id=job.job_id,
        campaign_id=job.campaign_id,
        kind=job.kind,
        ok=False,
        error=reason,
        device_seconds=0.5,
    )


def finish(c: Campaign, effects: list[Effect], now: float = T0 + 10) -> tuple[Campaign, list[Effect]]:
    out: list[Effect] = []
    for job in jobs(effects):
        c, more = apply(c, ResultEvent(result=result_for(job)), now)
        out += more
    return c, out


def latest(c: Campaign) -> int:
    return max(c.candidates)


# --- campaigns in every stage, made by driving apply() --------------------------------------


def fresh() -> Campaign:
    return new_campaign("c1", THREAD, OWNER, T0)


def drafting() -> Campaign:
    return run(fresh(), cmds.Draft(prompt="a red fox in snow", n=4, seed=42, aspect=(16, 9)))[0]


def voting() -> Campaign:
    c, effects = run(fresh(), cmds.Draft(prompt="a red fox in snow", n=4, seed=42, aspect=(16, 9)))
    return finish(c, effects)[0]


def refining() -> Campaign:
    return run(voting(), cmds.Select(numbers=(2,)))[0]


def editing() -> Campaign:
    c, effects = run(voting(), cmds.Select(numbers=(2,)))
    return finish(c, effects)[0]


def _edited(command: Callable[[int], cmds.Command], done: bool = False) -> Campaign:
    c = editing()
    c, effects = run(c, command(latest(c)))
    return finish(c, effects)[0] if done else c


def done() -> Campaign:
    return _edited(lambda n: cmds.Upscale(number=n), done=True)


def cancelled() -> Campaign:
    return run(voting(), cmds.Cancel())[0]


def failed_campaign() -> Campaign:
    c, effects = run(fresh(), cmds.Draft(prompt="a red fox", n=4))
    return apply(c, ResultEvent(result=failed(jobs(effects)[0])), T0 + 5)[0]


BUILDERS: dict[str, Callable[[], Campaign]] = {
    "new": fresh,
    "drafting": drafting,
    "voting": voting,
    "refining": refining,
    "editing": editing,
    "inpainting": lambda: _edited(lambda n: cmds.Inpaint(number=n, prompt="a scarf", box=(1, 2, 30, 40))),
    "outpainting": lambda: _edited(lambda n: cmds.Outpaint(number=n)),
    "restoring": lambda: _edited(lambda n: cmds.Faces(number=n)),
    "upscaling": lambda: _edited(lambda n: cmds.Upscale(number=n)),
    "done": done,
    "cancelled": cancelled,
    "failed": failed_campaign,
}

# what each stage's refusal must mention: what the campaign is waiting for
WAITING = {
    "new": "begin with /draft",
    "drafting": "Round 1 is still drafting (0 of 4 images). Vote when the grid is posted, or /cancel.",
    "voting": "Round 1 is open for voting",
    "refining": "Refining #2",
    "editing": "ready for edits",
    "inpainting": "Inpainting #5",
    "outpainting": "Outpainting #5",
    "restoring": "Restoring faces of #5",
    "upscaling": "Upscaling #5",
    "done": "Delivered #6",
    "cancelled": "This campaign is cancelled: start a new one with /draft in the channel.",
    "failed": "This campaign has failed: start a new one with /draft in the channel.",
}


def make_command(kind: type, c: Campaign) -> cmds.Command:
    n = latest(c) if c.candidates else 1
    table: dict[type, Callable[[], cmds.Command]] = {
        cmds.Draft: lambda: cmds.Draft(prompt="a blue fox"),
        cmds.Vary: lambda: cmds.Vary(number=n, strength="strong"),
        cmds.Reroll: cmds.Reroll,
        cmds.Select: lambda: cmds.Select(numbers=(1,)),
        cmds.Refine: lambda: cmds.Refine(number=n),
        cmds.Inpaint: lambda: cmds.Inpaint(number=n, prompt="a scarf", faces=True),
        cmds.Outpaint: lambda: cmds.Outpaint(number=n, pan="left"),
        cmds.Upscale: lambda: cmds.Upscale(number=n, scale=2),
        cmds.Faces: lambda: cmds.Faces(number=n),
        cmds.Status: cmds.Status,
        cmds.Cost: cmds.Cost,
        cmds.Cancel: cmds.Cancel,
        cmds.SettingsCmd: lambda: cmds.SettingsCmd(n=6),
        cmds.ScheduleAdd: lambda: cmds.ScheduleAdd(cron="0 9 * * 1", draft=cmds.Draft(prompt="weekly")),
        cmds.ScheduleList: cmds.ScheduleList,
        cmds.ScheduleRemove: lambda: cmds.ScheduleRemove(schedule_id="s1"),
        cmds.Help: lambda: cmds.Help(topic="draft"),
        cmds.Deliver: cmds.Deliver,
    }
    return table[kind]()


ANYTIME: set[type] = {cmds.Status, cmds.Cost, cmds.Help, cmds.Deliver}
ADMIN: set[type] = {cmds.Cancel, cmds.SettingsCmd} | ANYTIME
RESTING: set[type] = {cmds.Draft, cmds.Vary, cmds.Refine, cmds.Upscale, cmds.Faces} | ADMIN
ALLOWED: dict[str, set[type]] = {
    "new": {cmds.Draft} | ADMIN,
    "drafting": ADMIN,
    "voting": RESTING | {cmds.Reroll, cmds.Select, cmds.Inpaint, cmds.Outpaint},
    "refining": ADMIN,
    "editing": RESTING | {cmds.Inpaint, cmds.Outpaint},
    "inpainting": ADMIN,
    "outpainting": ADMIN,
    "restoring": ADMIN,
    "upscaling": ADMIN,
    "done": RESTING | {cmds.Inpaint, cmds.Outpaint},
    "cancelled": ANYTIME,
    "failed": ANYTIME,
}
# stage after an allowed command, and the job kinds it enqueues (None: the stage doesn't change)
OUTCOME: dict[type, tuple[Stage | None, list[JobKind]]] = {
    cmds.Draft: (Stage.DRAFTING, [JobKind.DRAFT]),
    cmds.Vary: (Stage.DRAFTING, [JobKind.VARIATION]),
    cmds.Reroll: (Stage.DRAFTING, [JobKind.DRAFT]),
    cmds.Select: (Stage.REFINING, [JobKind.REFINE]),
    cmds.Refine: (Stage.REFINING, [JobKind.REFINE]),
    cmds.Inpaint: (Stage.INPAINTING, [JobKind.INPAINT]),
    cmds.Outpaint: (Stage.OUTPAINTING, [JobKind.OUTPAINT]),
    cmds.Upscale: (Stage.UPSCALING, [JobKind.UPSCALE]),
    cmds.Faces: (Stage.RESTORING, [JobKind.RESTORE_FACES]),
    cmds.Status: (None, []),
    cmds.Cost: (None, []),
    cmds.Cancel: (Stage.CANCELLED, []),
    cmds.SettingsCmd: (None, []),
    cmds.Help: (None, []),
    cmds.Deliver: (None, []),
}
# commands that work on refined images only
REFINED_ONLY: set[type] = {cmds.Inpaint, cmds.Outpaint, cmds.Upscale}
PAIRS = [(stage, kind) for stage in BUILDERS for kind in cmds.ALL_COMMAND_TYPES]
_BUILT: dict[str, Campaign] = {}


def built(stage: str) -> Campaign:
    if stage not in _BUILT:
        _BUILT[stage] = BUILDERS[stage]()
    return _BUILT[stage]


def test_the_builders_reach_their_stages() -> None:
    for name in BUILDERS:
        expected = Stage.DRAFTING if name == "new" else Stage(name)
        assert built(name).stage is expected, name


@pytest.mark.parametrize(("stage", "kind"), PAIRS, ids=[f"{s}-{k.__name__}" for s, k in PAIRS])
def test_every_command_in_every_stage(stage: str, kind: type) -> None:
    c = built(stage)
    before = c.model_dump()
    new, effects = run(c, make_command(kind, c), now=T0 + 100)
    assert c.model_dump() == before, "the input campaign must never change"
    replies = [e for e in effects if isinstance(e, Reply)]
    if kind not in ALLOWED[stage]:
        assert new is c and len(effects) == 1 and replies and replies[0].error
        text = replies[0].text
        assert (
            ("in the channel" in text) if kind.__name__.startswith("Schedule") else (WAITING[stage] in text)
        )
        return
    if kind is cmds.Deliver:  # read-only anywhere; refused until a refined image exists
        finals = [n for n, cand in c.candidates.items() if cand.stage not in DRAFT_KINDS]
        assert new is c and len(replies) == 1 and replies[0].error == (not finals)
        return
    if stage == "voting" and kind in REFINED_ONLY:
        # the stage takes them, but the voting builder's latest image is a draft: refine it first
        assert new is c and len(effects) == 1 and replies and replies[0].error
        assert f"#{latest(c)} is a draft" in replies[0].text and f"/refine {latest(c)}" in replies[0].text
        return
    assert not any(r.error for r in replies), replies
    to, kinds = OUTCOME[kind]
    beside_vote = stage == "voting" and kind in (cmds.Upscale, cmds.Faces, cmds.Vary)
    assert new.stage is (c.stage if to is None or beside_vote else to)
    assert [j.kind for j in jobs(effects)] == kinds
    if kind in ANYTIME:
        assert new is c and replies and replies[0].text
    if kind is cmds.SettingsCmd:
        assert new.settings.n == 6 and "n 6" in replies[0].text
    if kind is cmds.Help:
        assert effects == [Reply(text=help_text("draft"))]


@pytest.mark.parametrize("stage", list(BUILDERS))
@pytest.mark.parametrize("topic", [None, "select", "schedule"])
def test_help_answers_in_every_stage_and_changes_nothing(stage: str, topic: str | None) -> None:
    c = built(stage)
    for user in (OWNER, MEMBER):
        new, effects = run(c, cmds.Help(topic=topic), user=user, now=T0 + 100)
        assert new is c
        assert effects == [Reply(text=help_text(topic), error=False)]


# --- drafting -------------------------------------------------------------------------------


def test_draft_job_carries_every_flag_and_seeds_count_up_from_the_given_seed() -> None:
    draft = cmds.Draft(
        prompt="a red fox",
        n=3,
        aspect=(16, 9),
        negative="blurry",
        seed=42,
        preset="preview",
        model="sdxl",
        steps=6,
        cfg=2.5,
        loras=(LoraSpec(name="ink", weight=0.7),),
        sref=("k1", "k2"),
        sw=0.4,
        cref="k3",
        sketch="k4",
        control="lineart",
        vote_seconds=600,
        quorum=2,
        top=2,
    )
    c, effects = run(fresh(), draft)
    (job,) = jobs(effects)
    assert (job.job_id, job.kind, job.seeds) == ("c1.j1", JobKind.DRAFT, [42, 43, 44])
    assert (job.prompt, job.negative, job.preset, job.aspect, job.model) == (
        "a red fox",
        "blurry",
        "preview",
        (16, 9),
        "sdxl",
    )
    assert (job.steps, job.guidance, job.loras, job.style_refs, job.style_weight) == (
        6,
        2.5,
        [LoraSpec(name="ink", weight=0.7)],
        ["k1", "k2"],
        0.4,
    )
    assert (job.character_ref, job.control_image, job.control_kind) == ("k3", "k4", "lineart")
    assert c.stage is Stage.DRAFTING and c.rounds[0].expected == 3


def test_seeds_without_a_flag_are_derived_from_campaign_round_and_index() -> None:
    a = jobs(run(fresh(), cmds.Draft(prompt="x", n=4))[1])[0].seeds
    b = jobs(run(fresh(), cmds.Draft(prompt="x", n=4))[1])[0].seeds
    other = jobs(run(new_campaign("c2", THREAD, OWNER, T0), cmds.Draft(prompt="x", n=4))[1])[0].seeds
    assert a == b and a != other and len(set(a)) == 4 and all(0 <= s < 2**32 for s in a)


def test_later_rounds_inherit_settings_and_close_the_open_vote() -> None:
    c, effects = run(voting(), cmds.Draft(prompt="a grey wolf"))
    (job,) = jobs(effects)
    assert (job.prompt, job.aspect, len(job.seeds), job.job_id) == ("a grey wolf", (16, 9), 4, "c1.j2")
    assert CloseVoting(round_no=1) in effects and c.rounds[0].closed_by == "superseded"


def test_draft_with_an_image_is_img2img() -> None:
    (job,) = jobs(run(fresh(), cmds.Draft(prompt="a mug", image="k9", strength=0.5))[1])
    assert (job.kind, job.init_image, job.strength) == (JobKind.IMG2IMG, "k9", 0.5)


def test_draft_results_open_voting_with_a_numbered_grid() -> None:
    c, effects = run(fresh(), cmds.Draft(prompt="a red fox", n=4, seed=42, vote_seconds=600))
    job = jobs(effects)[0]
    c, effects = apply(c, ResultEvent(result=result_for(job, seconds=2.0)), T0 + 30)
    assert c.stage is Stage.VOTING and c.rounds[0].open and c.rounds[0].deadline == T0 + 630
    assert OpenVoting(round_no=1, deadline=T0 + 630) in effects
    (grid,) = [p.message for p in posts(effects)]
    assert grid.kind is MessageKind.GRID and grid.round_no == 1 and grid.reactions == list(NUMBER_EMOJI[:4])
    assert grid.images[0].caption == "#1 · seed 42 · draft"
    assert action_id("vary", "c1", 3, "subtle") in {b.action_id for b in buttons(grid)}
    assert {b.label for b in buttons(grid)} >= {"V1 subtle", "Refine 4"}
    assert not any(b.label.startswith("Upscale") for b in buttons(grid))  # drafts are refined first
    assert [c.candidates[n].device_seconds for n in c.rounds[0].candidates] == [0.5] * 4


def test_vary_and_reroll() -> None:
    c = voting()
    source = c.candidates[3]
    c2, effects = run(c, cmds.Vary(number=3, strength="subtle"), MEMBER)
    (job,) = jobs(effects)
    assert (job.kind, job.init_image, job.strength, len(job.seeds)) == (
        JobKind.VARIATION,
        source.artifact,
        0.35,
        4,
    )
    assert c2.rounds[-1].kind == "variation" and c2.pending[job.job_id].parent == 3
    # a variation asked for during the vote is a branch: round 1 stays open beside it
    assert c2.rounds[0].open and c2.rounds[-1].beside == 1 and c2.stage is Stage.VOTING
    # a member's reroll runs beside the open vote too; the owner's replaces it
    beside, effects = run(c, cmds.Reroll(), MEMBER)
    assert beside.rounds[0].open and beside.rounds[-1].beside == 1 and beside.stage is Stage.VOTING
    assert "only the owner or an approver can close a round early" in posts(effects)[0].message.text
    c3, effects = run(c, cmds.Reroll(), OWNER)
    (job,) = jobs(effects)
    assert job.prompt == "a red fox in snow" and not set(job.seeds) & {42, 43, 44, 45}
    assert c3.rounds[-1].kind == "reroll" and c3.stage is Stage.DRAFTING
    reply = run(c, cmds.Vary(number=99))[1][0]
    assert isinstance(reply, Reply) and reply.error and "There is no #99" in reply.text


# --- selecting, closing rounds, refining ---------------------------------------------------


def test_only_the_owner_or_an_approver_selects_from_the_round() -> None:
    c = voting()
    (reply,) = run(c, cmds.Select(numbers=(2,)), MEMBER)[1]
    assert isinstance(reply, Reply) and reply.error and "owner or an approver" in reply.text
    (reply,) = run(c, cmds.Select(numbers=(9,)), APPROVER)[1]
    assert isinstance(reply, Reply) and reply.text == "#9 isn't in round 1 (it holds #1–#4)."
    c2, effects = run(c, cmds.Select(numbers=(2, 4)), APPROVER)
    assert c2.rounds[0].winners == [2, 4] and c2.rounds[0].closed_by == "select"
    assert [j.seeds for j in jobs(effects)] == [[43], [45]]


def test_close_round_refines_the_winners_with_the_same_seed() -> None:
    c = voting()
    tally = {1: [("a", 5.0)], 3: [("b", 4.0), ("c", 9.0)], 2: [("d", 1.0)]}
    c2, effects = apply(c, CloseRound(round_no=1, reason="deadline", tally=tally), T0 + 2000)
    (job,) = jobs(effects)
    win = c.candidates[3]
    assert (job.kind, job.seeds, job.init_image, job.preset, job.aspect, job.strength) == (
        JobKind.REFINE,
        [win.seed],
        win.artifact,
        "final",
        (16, 9),
        0.45,
    )
    assert c2.stage is Stage.REFINING and c2.rounds[0].winners == [3] and CloseVoting(round_no=1) in effects
    assert "#3 (2 votes)" in posts(effects)[0].message.text
    again = apply(c2, CloseRound(round_no=1, reason="deadline", tally=tally), T0 + 2001)
    assert again[0] is c2 and again[1] == []
    assert apply(c2, CloseRound(round_no=7, reason="quorum"), T0)[1] == []


def test_a_round_with_no_votes_stays_open_to_picking() -> None:
    c, effects = apply(voting(), CloseRound(round_no=1, reason="deadline", tally={}), T0 + 2000)
    assert c.stage is Stage.PICKING and not c.rounds[0].open and jobs(effects) == []
    assert posts(effects)[0].message.text.startswith("Round 1 closed with no votes")
    (reply,) = run(c, cmds.Refine())[1]
    assert isinstance(reply, Reply) and reply.error and "no winners" in reply.text
    c2, effects = run(c, cmds.Refine(number=2, aspect=(2, 3), preset="preview"), MEMBER)
    (job,) = jobs(effects)
    assert (job.aspect, job.preset, job.seeds) == ((2, 3), "preview", [43]) and c2.settings.aspect == (2, 3)
    assert run(c, cmds.Select(numbers=(4,)))[0].stage is Stage.REFINING


def test_refine_without_a_number_waits_for_an_open_vote() -> None:
    (reply,) = run(voting(), cmds.Refine())[1]
    assert isinstance(reply, Reply) and reply.error and "still open" in reply.text


def test_upscale_of_a_draft_asks_to_refine_it_first() -> None:
    (reply,) = run(voting(), cmds.Upscale(number=2), MEMBER)[1]
    assert isinstance(reply, Reply) and reply.error
    assert reply.text.startswith(
        "#2 is a draft: /upscale works on refined images. Refine it first with /refine 2"
    )
    assert "react with 2️⃣" in reply.text


def test_upscale_of_a_refined_image_runs_beside_the_vote() -> None:
    c = editing()
    refined = latest(c)
    c, effects = finish(*run(c, cmds.Draft(prompt="a grey wolf")))
    assert c.stage is Stage.VOTING and c.rounds[-1].open
    c, effects = run(c, cmds.Upscale(number=refined), MEMBER)
    c, effects = finish(c, effects)
    assert c.stage is Stage.VOTING and c.rounds[-1].open and c.deliverables == [latest(c)]
    assert posts(effects)[0].message.text == f"Delivered #{latest(c)} (5376x3072)"


# --- results --------------------------------------------------------------------------------


def test_a_result_applied_twice_changes_nothing_the_second_time() -> None:
    c, effects = run(fresh(), cmds.Draft(prompt="x", n=2))
    res = ResultEvent(result=result_for(jobs(effects)[0]))
    c2, first = apply(c, res, T0 + 1)
    c3, second = apply(c2, res, T0 + 2)
    assert first and c3 is c2 and second == []
    stranger = ResultEvent(result=res.result.model_copy(update={"job_id": "c1.j99"}))
    assert apply(c, stranger, T0) == (c, [])


def test_applied_results_keep_the_last_500() -> None:
    c, effects = run(fresh(), cmds.Draft(prompt="x", n=2))
    c = c.model_copy(update={"applied_results": [f"old{i}" for i in range(500)]})
    c2, _ = apply(c, ResultEvent(result=result_for(jobs(effects)[0])), T0)
    assert (
        len(c2.applied_results) == 500
        and c2.applied_results[-1] == "c1.j1"
        and "old0" not in c2.applied_results
    )


def test_a_failed_first_draft_fails_the_campaign() -> None:
    c = failed_campaign()
    assert c.failure == "out of GPU memory" and c.pending == {} and c.ledger[0].device_seconds == 0.5
    (reply,) = run(c, cmds.Draft(prompt="again"))[1]
    assert isinstance(reply, Reply) and reply.error and "failed" in reply.text


def test_failures_return_to_where_the_team_can_act() -> None:
    c, effects = run(voting(), cmds.Select(numbers=(2,)))
    c, effects = apply(c, ResultEvent(result=failed(jobs(effects)[0], "bad init image")), T0 + 50)
    assert c.stage is Stage.PICKING and posts(effects)[0].message.text == "Refining #2 failed: bad init image"
    c, effects = run(editing(), cmds.Outpaint(number=5, zoom=2.0))
    c, effects = apply(c, ResultEvent(result=failed(jobs(effects)[0], "NaN output")), T0 + 50)
    assert c.stage is Stage.EDITING and posts(effects)[0].message.text == "Outpainting #5 failed: NaN output"
    c, effects = run(voting(), cmds.Reroll())
    c, effects = apply(c, ResultEvent(result=failed(jobs(effects)[0], "timeout")), T0 + 50)
    assert c.stage is Stage.PICKING and posts(effects)[0].message.text == "Drafting failed: timeout"
    assert run(c, cmds.Select(numbers=(1,)))[0].stage is Stage.REFINING


# --- budget, cancel, settings ---------------------------------------------------------------


def test_a_spent_budget_refuses_new_work_but_not_status() -> None:
    c, effects = run(fresh(), cmds.Draft(prompt="x", n=4))
    c, _ = run(c, cmds.SettingsCmd(budget_seconds=1.0))
    c, _ = finish(c, effects)  # 2.0 device-seconds
    (reply,) = run(c, cmds.Vary(number=1))[1]
    assert isinstance(reply, Reply) and reply.error
    assert reply.text.startswith(
        "Budget spent: 2.0 of 1.0 device-seconds. The owner can raise it with /settings budget"
    )
    assert not run(c, cmds.Status())[1][0].error  # type: ignore[union-attr]
    c2, effects = apply(c, CloseRound(round_no=1, reason="quorum", tally={2: [("a", 1.0)]}), T0 + 60)
    assert jobs(effects) == [] and c2.stage is Stage.PICKING and c2.rounds[0].winners == [2]
    assert "Budget spent" in posts(effects)[0].message.text
    c3, _ = run(c2, cmds.SettingsCmd(clear_budget=True))
    assert jobs(run(c3, cmds.Refine())[1])[0].seeds == [c.candidates[2].seed]


def test_cancel_stops_jobs_and_closes_the_vote() -> None:
    c = drafting()
    (reply,) = run(c, cmds.Cancel(), MEMBER)[1]
    assert isinstance(reply, Reply) and reply.error
    c2, effects = run(c, cmds.Cancel(), APPROVER)
    assert CancelJobs(job_ids=("c1.j1",)) in effects and c2.stage is Stage.CANCELLED and c2.pending == {}
    assert (
        apply(c2, ResultEvent(result=result_for(jobs(run(fresh(), cmds.Draft(prompt="x", n=4))[1])[0])), T0)[
            1
        ]
        == []
    )
    assert CloseVoting(round_no=1) in run(voting(), cmds.Cancel())[1]


def test_settings_need_authority_and_reach_the_open_vote() -> None:
    (reply,) = run(voting(), cmds.SettingsCmd(quorum=3), MEMBER)[1]
    assert isinstance(reply, Reply) and reply.error
    c, (reply,) = run(voting(), cmds.SettingsCmd(quorum=3, top=2, aspect=(3, 2), budget_seconds=600))
    assert c.rounds[0].quorum == 3 and c.rounds[0].top_k == 2 and c.settings.aspect == (3, 2)
    assert isinstance(reply, Reply) and "quorum 3" in reply.text and "budget 10.0 min" in reply.text


# --- the whole loop ------------------------------------------------------------------------


def test_each_grid_image_carries_its_own_buttons_and_a_caption_naming_its_number_once() -> None:
    c, effects = run(fresh(), cmds.Draft(prompt="a red fox", n=3, seed=42))
    c, effects = apply(c, ResultEvent(result=result_for(jobs(effects)[0], seconds=1.0)), T0 + 30)
    (grid,) = [p.message for p in posts(effects)]
    assert grid.buttons == []  # every action on a voting grid belongs to one image
    for image in grid.images:
        n = image.number
        assert image.caption.startswith(f"#{n} ") and image.caption.count("#") == 1
        assert [b.action_id for b in image.buttons] == [
            action_id("vary", "c1", n, "subtle"),
            action_id("refine", "c1", n),
        ]
    refined = c.model_copy(update={"stage": Stage.EDITING})
    edit = render.edit_grid(refined, [refined.candidates[2]], "Refined #2")
    assert edit.buttons == [] and [b.label for b in edit.images[0].buttons] == [
        "Upscale 2 ×4",
        "Faces 2",
        "Zoom out 1.5x 2",
        "Zoom out 2x 2",
        "Pan ⬅ 2",
        "Pan ➡ 2",
        "Pan ⬆ 2",
        "Pan ⬇ 2",
        "Vary 2",
    ]
    refined_cand = refined.candidates[2].model_copy(update={"stage": JobKind.REFINE, "parent": 1})
    assert render.caption(refined_cand) == "#2 · seed 43 · refined from #1"


def test_full_loop_keeps_lineage_from_draft_to_delivery() -> None:
    c, effects = run(fresh(), cmds.Draft(prompt="a red fox in snow", n=4, seed=7, aspect=(16, 9)))
    c, _ = finish(c, effects)
    c, effects = apply(
        c, CloseRound(round_no=1, reason="deadline", tally={2: [("a", 1.0), ("b", 2.0)]}), T0 + 99
    )
    c, effects = finish(c, effects)
    refined = latest(c)
    assert c.stage is Stage.EDITING and posts(effects)[0].message.round_no is None
    assert {b.label for b in buttons(posts(effects)[0].message)} == {
        f"Upscale {refined} ×4",
        f"Faces {refined}",
        f"Zoom out 1.5x {refined}",
        f"Zoom out 2x {refined}",
        *(f"Pan {arrow} {refined}" for arrow in "⬅➡⬆⬇"),
        f"Vary {refined}",
    }
    c, effects = run(c, cmds.Inpaint(number=refined, prompt="a green scarf", box=(10, 20, 30, 40)))
    assert jobs(effects)[0].mask is not None and jobs(effects)[0].mask.box == (10, 20, 30, 40)  # type: ignore[union-attr]
    c, _ = finish(c, effects)
    c, effects = run(c, cmds.Outpaint(number=latest(c)))
    assert jobs(effects)[0].zoom == 1.5
    c, _ = finish(c, effects)
    c, effects = run(c, cmds.Upscale(number=latest(c), scale=4, faces=True))
    assert (jobs(effects)[0].scale, jobs(effects)[0].face_restore) == (4, True)
    c, effects = finish(c, effects)
    final = latest(c)
    assert c.stage is Stage.DONE and c.deliverables == [final] and c.finished_at is not None
    chain: list[Candidate] = []
    number: int | None = final
    while number is not None:
        chain.append(c.candidates[number])
        number = c.candidates[number].parent
    assert [x.stage for x in chain] == [
        JobKind.UPSCALE,
        JobKind.OUTPAINT,
        JobKind.INPAINT,
        JobKind.REFINE,
        JobKind.DRAFT,
    ]
    assert {x.seed for x in chain} == {8} and chain[-1].number == 2
    assert chain[2].prompt == "a green scarf" and chain[3].prompt == "a red fox in snow"
    assert posts(effects)[0].message.text == "Delivered #8 (5376x3072)"
