"""The neutral messages and texts the campaign machine posts."""

from __future__ import annotations

from bot.core import ledger
from bot.core.buttons import action_id
from bot.core.messages import GRID_SIZE, NUMBER_EMOJI, Button, GridImage, Message, MessageKind
from bot.core.model import Campaign, Candidate, PendingJob, Round, Settings, Stage
from bot.core.vote_text import countdown, round_state, vote_line
from bot.core.voting import grid_round, grids, holds_text, open_rounds
from engine.api import JobKind

# the refined-image actions: zoom out by these factors, pan these ways
ZOOMS: tuple[str, ...] = ("1.5", "2")
PANS: tuple[tuple[str, str], ...] = (("left", "⬅"), ("right", "➡"), ("up", "⬆"), ("down", "⬇"))

_KIND_WORD = {
    JobKind.DRAFT: "draft",
    JobKind.IMG2IMG: "draft from image",
    JobKind.VARIATION: "variation",
    JobKind.REFINE: "refined",
    JobKind.INPAINT: "inpainted",
    JobKind.OUTPAINT: "outpainted",
    JobKind.UPSCALE: "upscaled",
    JobKind.RESTORE_FACES: "faces restored",
}

_WORKING_VERB = {
    Stage.DRAFTING: "Drafting",
    Stage.REFINING: "Refining",
    Stage.INPAINTING: "Inpainting",
    Stage.OUTPAINTING: "Outpainting",
    Stage.RESTORING: "Restoring faces of",
    Stage.UPSCALING: "Upscaling",
}

_CLOSED_BY = {
    "deadline": "closed at its deadline",
    "quorum": "closed at quorum",
    "select": "closed by /select",
    "superseded": "closed by a newer round",
    "cancel": "closed by /cancel",
    "scores": "closed with no votes; the top-scored drafts went on",
}

TERMINAL_TEXT = "This campaign {state}: start a new one with /draft in the channel."
NOT_STARTED_TEXT = "This campaign hasn't started: begin with /draft <prompt>."


def caption(cand: Candidate) -> str:
    """The finished caption of a candidate, ``#<number> · seed <seed> · <what it is>``."""
    word = _KIND_WORD[cand.stage]
    if cand.parent is not None and cand.stage is not JobKind.DRAFT:
        word = f"{word} from #{cand.parent}"
    hint = f" · score {cand.score:.1f}" if cand.score is not None else ""
    return f"#{cand.number} · seed {cand.seed} · {word}{hint}"


def _image(cand: Candidate, buttons: list[Button] | None = None) -> GridImage:
    return GridImage(
        number=cand.number,
        artifact=cand.artifact,
        caption=caption(cand),
        width=cand.width,
        height=cand.height,
        buttons=buttons or [],
    )


def _voting_buttons(campaign_id: str, n: int) -> list[Button]:
    """A draft's actions; upscaling is for refined images, so a draft offers refining instead."""
    return [
        Button(label=f"V{n} subtle", action_id=action_id("vary", campaign_id, n, "subtle")),
        Button(label=f"Refine {n}", action_id=action_id("refine", campaign_id, n)),
    ]


def _edit_buttons(campaign_id: str, n: int) -> list[Button]:
    return [
        Button(label=f"Upscale {n} ×4", action_id=action_id("upscale", campaign_id, n, "4")),
        Button(label=f"Faces {n}", action_id=action_id("faces", campaign_id, n)),
        *(
            Button(label=f"Zoom out {zoom}x {n}", action_id=action_id("outpaint", campaign_id, n, zoom))
            for zoom in ZOOMS
        ),
        *(
            Button(label=f"Pan {arrow} {n}", action_id=action_id("outpaint", campaign_id, n, way))
            for way, arrow in PANS
        ),
        Button(label=f"Vary {n}", action_id=action_id("vary", campaign_id, n)),
    ]


def text(campaign: Campaign, body: str) -> Message:
    return Message(kind=MessageKind.TEXT, campaign_id=campaign.id, text=body)


def voting_grids(campaign: Campaign, rnd: Round, now: float | None = None) -> list[Message]:
    """The round's images as grids of at most ``GRID_SIZE``, each with its own number reactions."""
    parts = grids(rnd)
    what = "variations" if rnd.kind == "variation" else "drafts"
    first = campaign.candidates[rnd.candidates[0]] if rnd.candidates else None
    of = (
        f"of #{rnd.parent}"
        if rnd.kind == "variation" and rnd.parent
        else f"of “{first.prompt if first else ''}”"
    )
    beside = f" It runs beside round {rnd.beside}'s vote." if rnd.beside is not None else ""
    vote = (
        f"Vote with the number reactions: {countdown(rnd.deadline, now)}."
        if now is not None
        else ("Vote with the number reactions.")
    )
    messages: list[Message] = []
    for index, numbers in enumerate(parts):
        cands = [campaign.candidates[n] for n in numbers]
        which = f" (grid {index + 1} of {len(parts)}: #{numbers[0]}–#{numbers[-1]})" if len(parts) > 1 else ""
        body = f"Round {rnd.number}{which}: {len(rnd.candidates)} {what} {of}.{beside} {vote}"
        messages.append(
            Message(
                kind=MessageKind.GRID,
                campaign_id=campaign.id,
                text=body,
                images=[_image(c, _voting_buttons(campaign.id, c.number)) for c in cands],
                reactions=list(NUMBER_EMOJI[: min(len(cands), GRID_SIZE)]),
                round_no=rnd.number,
                grid_index=index,
            )
        )
    return messages


def voting_grid(campaign: Campaign, rnd: Round, now: float | None = None) -> Message:
    """The first (for a round of up to ``GRID_SIZE`` images, the only) grid of the round."""
    return voting_grids(campaign, rnd, now)[0]


def edit_grid(campaign: Campaign, cands: list[Candidate], body: str) -> Message:
    return Message(
        kind=MessageKind.GRID,
        campaign_id=campaign.id,
        text=body,
        images=[_image(c, _edit_buttons(campaign.id, c.number)) for c in cands],
    )


def delivered_grid(campaign: Campaign, cand: Candidate) -> Message:
    body = f"Delivered #{cand.number} ({cand.width}x{cand.height})"
    return Message(kind=MessageKind.GRID, campaign_id=campaign.id, text=body, images=[_image(cand)])


def job_label(job: PendingJob) -> str:
    verb = _WORKING_VERB[job.stage]
    if job.stage is Stage.DRAFTING:
        return f"{verb} round {job.round_no}"
    return f"{verb} #{job.parent}"


def failure_text(job: PendingJob, reason: str) -> str:
    what = _WORKING_VERB[job.stage] if job.stage is Stage.DRAFTING else job_label(job)
    return f"{what} failed: {reason}"


def _numbers(numbers: list[int]) -> str:
    return ", ".join(f"#{n}" for n in numbers)


def _pending_of(campaign: Campaign, stage: Stage) -> list[PendingJob]:
    return [p for p in campaign.pending.values() if p.stage is stage]


def waiting_text(campaign: Campaign, now: float) -> str:
    """What the campaign is waiting for, in one or two sentences."""
    stage = campaign.stage
    if stage in (Stage.CANCELLED, Stage.FAILED):
        return TERMINAL_TEXT.format(state="is cancelled" if stage is Stage.CANCELLED else "has failed")
    if not campaign.rounds:
        return NOT_STARTED_TEXT
    rnd = campaign.rounds[-1]
    if stage is Stage.DRAFTING:
        return (
            f"Round {rnd.number} is still drafting ({len(rnd.candidates)} of {rnd.expected} images). "
            "Vote when the grid is posted, or /cancel."
        )
    voting = open_rounds(campaign)
    if stage is Stage.VOTING and voting:
        shown = voting[-1]
        return (
            f"Round {shown.number} is open for voting ({countdown(shown.deadline, now)}): react "
            "with the numbers under the grid, or the owner can /select."
        )
    if stage in (Stage.VOTING, Stage.PICKING):
        shown = grid_round(campaign) or rnd
        if shown.winners:
            return (
                f"Round {shown.number} picked {_numbers(shown.winners)}: /refine to make it at full quality."
            )
        return (
            f"Round {shown.number} is closed with no winners: pick with /refine <n>, /vary <n>, "
            "/reroll or /select <n>."
        )
    if stage is Stage.EDITING:
        return (
            "The refined images are ready for edits: /inpaint, /outpaint, /faces or /upscale <n>, "
            "or /draft a new round."
        )
    if stage is Stage.DONE:
        return (
            f"Delivered {_numbers(campaign.deliverables)}. You can still /upscale, /faces, /inpaint, "
            "/outpaint, /vary or /refine, or /draft a new round."
        )
    jobs = _pending_of(campaign, stage)
    doing = "; ".join(job_label(j) for j in jobs) or _WORKING_VERB[stage]
    return f"{doing}: wait for the result, or /cancel."


def status_line(campaign: Campaign, now: float | None = None) -> str:
    """The one status line an adapter edits in place; with ``now``, each open vote's countdown."""
    stage = campaign.stage
    rnd = campaign.current_round
    head = f"{stage.value.capitalize()}"
    voting = open_rounds(campaign)
    if voting:
        head += " · " + " · ".join(vote_line(r, now) for r in voting)
    elif rnd is not None:
        head += f" · round {rnd.number}"
    if campaign.pending:
        head += f" · {len(campaign.pending)} job{'s' if len(campaign.pending) != 1 else ''} running"
    if campaign.deliverables:
        head += f" · delivered {_numbers(campaign.deliverables)}"
    if stage is Stage.FAILED and campaign.failure:
        head += f" · {campaign.failure}"
    return head


def status_text(campaign: Campaign, now: float) -> str:
    lines = [f"Campaign {campaign.id}: {campaign.stage.value}."]
    if campaign.settings.prompt:
        lines.append(f"Prompt: “{campaign.settings.prompt}”")
    for rnd in campaign.rounds[-3:]:
        state = (
            f"open for voting: {vote_line(rnd, now).split(': ', 1)[1]}"
            if rnd.open
            else (
                _CLOSED_BY.get(rnd.closed_by, f"closed ({rnd.closed_by})")
                if rnd.closed_by
                else f"{len(rnd.candidates)} of {rnd.expected} images"
            )
        )
        picked = f", winners {_numbers(rnd.winners)}" if rnd.winners else ""
        grid = f", {holds_text(rnd)}" if rnd.candidates else ""
        lines.append(f"Round {rnd.number} ({rnd.kind}): {state}{grid}{picked}.")
        scored = _scores_hint(campaign, rnd)
        if scored:
            lines.append(scored)
    for job in campaign.pending.values():
        lines.append(f"Running: {job_label(job)} ({job.expected} image{'s' if job.expected != 1 else ''}).")
    if campaign.selected:
        lines.append(f"Selected: {_numbers(campaign.selected)}.")
    if campaign.deliverables:
        lines.append(f"Delivered: {_numbers(campaign.deliverables)}.")
    spent = ledger.format_seconds(campaign.spent_seconds())
    budget = campaign.settings.budget_seconds
    lines.append(f"Spent {spent}" + (f" of a {ledger.format_seconds(budget)} budget." if budget else "."))
    if campaign.failure:
        lines.append(f"Failure: {campaign.failure}")
    lines.append(waiting_text(campaign, now))
    return "\n".join(lines)


def _scores_hint(campaign: Campaign, rnd: Round, shown: int = 3) -> str:
    """The machine's opinion beside the team's: the round's best aesthetic scores."""
    scored = [campaign.candidates[n] for n in rnd.candidates if campaign.candidates[n].score is not None]
    if not scored:
        return ""
    best = sorted(scored, key=lambda cand: (-(cand.score or 0.0), cand.number))[:shown]
    listed = ", ".join(f"#{cand.number} ({cand.score:.1f})" for cand in best)
    return f"  Aesthetic score, a hint beside the votes: {listed}."


def grid_state(campaign: Campaign, round_no: int, now: float | None = None) -> str:
    """What a voting grid's round is doing now, for an adapter to show on the grid: open with its
    countdown, voters and leader, or closed (how, and who went on)."""
    for rnd in campaign.rounds:
        if rnd.number == round_no:
            return round_state(rnd, now)
    return ""


def settings_text(settings: Settings) -> str:
    budget = ledger.format_seconds(settings.budget_seconds) if settings.budget_seconds is not None else "none"
    quorum = str(settings.quorum) if settings.quorum is not None else "none"
    w, h = settings.aspect
    return (
        f"Settings: budget {budget} · quorum {quorum} · vote {settings.vote_seconds // 60} min · "
        f"top {settings.top_k} · n {settings.n} · ar {w}:{h} · preset {settings.preset} "
        f"(final {settings.final_preset})"
        + (f" · model {settings.model}" if settings.model else "")
        + (" · no votes: the top-scored drafts go on" if settings.advance_on_silence else "")
    )
