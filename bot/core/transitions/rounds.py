"""Rounds: drafting, variations, rerolls, voting and picking the winners."""

from __future__ import annotations

from bot.core import ledger, render
from bot.core.commands import Draft, Reroll, Select, Vary
from bot.core.effects import Effect, Enqueue, OpenVoting, Post, UpdateStatus
from bot.core.events import CloseRound, Tallied, Tally
from bot.core.messages import GRID_SIZE
from bot.core.model import TERMINAL_STAGES, Campaign, Round, Settings, Stage, User
from bot.core.transitions.base import (
    Refused,
    close_one,
    has_authority,
    issue,
    model_field,
    require_authority,
    require_budget,
    require_finished,
    resting_stage,
    round_seeds,
)
from bot.core.transitions.finals import start_refine
from bot.core.vote_text import tie_note, votes_summary, votes_word
from bot.core.voting import find_round, grid_round, holds_text, open_rounds, round_of, vote_counts, winners

VARY_STRENGTH = {"subtle": 0.35, "strong": 0.7}
IMG2IMG_STRENGTH = 0.6


def _merge(settings: Settings, cmd: Draft, prompt: str) -> None:
    settings.prompt = prompt
    pairs: list[tuple[str, object]] = [
        ("negative", cmd.negative),
        ("n", cmd.n),
        ("aspect", cmd.aspect),
        ("preset", cmd.preset),
        ("model", cmd.model),
        ("steps", cmd.steps),
        ("guidance", cmd.cfg),
        ("style_weight", cmd.sw),
        ("character_ref", cmd.cref),
        ("control_image", cmd.sketch),
        ("control_kind", cmd.control),
        ("vote_seconds", cmd.vote_seconds),
        ("quorum", cmd.quorum),
        ("top_k", cmd.top),
    ]
    for name, value in pairs:
        if value is not None:
            setattr(settings, name, value)
    if cmd.loras:
        settings.loras = list(cmd.loras)
    if cmd.sref:
        settings.style_refs = list(cmd.sref)


def _new_round(c: Campaign, kind: str, expected: int) -> Round:
    rnd = Round(number=len(c.rounds) + 1, kind=kind, expected=expected)
    c.rounds.append(rnd)
    return rnd


def _who(user: User) -> str:
    return user.name or user.id


def _replace_open_rounds(c: Campaign, user: User, how: str) -> tuple[list[Effect], int | None]:
    """A new round asked for while a vote is open: the owner's or an approver's replaces the vote, saying
    so in the thread; anyone else's runs beside it (only they, or the quorum, close a round).
    Returns the effects and the round the new one runs beside, if any."""
    voting = open_rounds(c)
    if not voting:
        return [], None
    next_no = len(c.rounds) + 1
    if not has_authority(c, user):
        body = (
            f"{_who(user)} started round {next_no} with {how}: it runs beside round {voting[-1].number}'s "
            "vote, which stays open (only the owner or an approver can close a round early)."
        )
        return [Post(message=render.text(c, body))], voting[-1].number
    effects: list[Effect] = []
    for rnd in voting:
        effects += close_one(rnd, "superseded", [])
        body = (
            f"Round {rnd.number} closed: {_who(user)} started round {next_no} with {how}, so its "
            f"{votes_summary(rnd)} {'were' if rnd.tally else 'are'} set aside (not counted)."
        )
        effects.append(Post(message=render.text(c, body)))
    return effects, None


def _start_round_job(c: Campaign, rnd: Round, seeds: list[int], user_id: str, now: float) -> list[Effect]:
    """One job per grid of the round (at most ``GRID_SIZE`` images each), so a big round batches with
    other work and reports progress grid by grid."""
    jobs: list[Effect] = [
        _round_job(c, rnd, seeds[i : i + GRID_SIZE], user_id, now) for i in range(0, len(seeds), GRID_SIZE)
    ]
    if rnd.beside is None:
        c.stage = Stage.DRAFTING
    return [*jobs, UpdateStatus(text=render.status_line(c, now))]


def _round_job(c: Campaign, rnd: Round, seeds: list[int], user_id: str, now: float) -> Enqueue:
    s = c.settings
    if rnd.parent is not None:
        source = c.candidates[rnd.parent]
        return issue(
            c,
            now,
            user_id,
            Stage.DRAFTING,
            round_no=rnd.number,
            parent=rnd.parent,
            references=[*source.references, source.artifact],
            kind="variation",
            prompt=source.prompt,
            negative=source.negative,
            seeds=seeds,
            preset=s.preset,
            aspect=s.aspect,
            init_image=rnd.init_image,
            strength=rnd.strength,
            loras=source.loras,
            model=source.model,
            steps=s.steps,
            guidance=s.guidance,
        )
    refs = [*s.style_refs, *(r for r in (s.character_ref, s.control_image, rnd.init_image) if r)]
    return issue(
        c,
        now,
        user_id,
        Stage.DRAFTING,
        round_no=rnd.number,
        references=refs,
        kind="img2img" if rnd.init_image else "draft",
        prompt=s.prompt,
        negative=s.negative,
        seeds=seeds,
        preset=s.preset,
        aspect=s.aspect,
        steps=s.steps,
        guidance=s.guidance,
        loras=s.loras,
        style_refs=s.style_refs,
        style_weight=s.style_weight,
        character_ref=s.character_ref,
        control_image=s.control_image,
        control_kind=s.control_kind,
        init_image=rnd.init_image,
        strength=rnd.strength,
        **model_field(s.model),
    )


def draft(c: Campaign, cmd: Draft, user: User, now: float) -> list[Effect]:
    require_budget(c)
    prompt = cmd.prompt.strip() or c.settings.prompt
    if not prompt:
        raise Refused("Say what to draw: /draft <prompt>, for example `/draft a red fox in snow --n 8`.")
    effects, beside = _replace_open_rounds(c, user, "/draft")
    _merge(c.settings, cmd, prompt)
    rnd = _new_round(c, "draft", c.settings.n)
    rnd.beside = beside
    if cmd.image:
        rnd.init_image = cmd.image
        rnd.strength = cmd.strength if cmd.strength is not None else IMG2IMG_STRENGTH
    seeds = round_seeds(c.id, rnd.number, c.settings.n, cmd.seed)
    return effects + _start_round_job(c, rnd, seeds, user.id, now)


def vary(c: Campaign, cmd: Vary, user: User, now: float) -> list[Effect]:
    source = require_finished(c, cmd.number)
    require_budget(c)
    voting = open_rounds(c)
    rnd = _new_round(c, "variation", c.settings.n)
    rnd.parent = source.number
    rnd.init_image = source.artifact
    rnd.strength = VARY_STRENGTH[cmd.strength]
    effects: list[Effect] = []
    if voting:  # a branch: its own round, voted on beside the open one, which goes on untouched
        rnd.beside = voting[-1].number
        body = (
            f"{_who(user)} asked for {cmd.strength} variations of #{source.number}: round {rnd.number} "
            f"runs beside round {rnd.beside}'s vote, which stays open."
        )
        effects.append(Post(message=render.text(c, body)))
    seeds = round_seeds(c.id, rnd.number, c.settings.n)
    return effects + _start_round_job(c, rnd, seeds, user.id, now)


def reroll(c: Campaign, cmd: Reroll, user: User, now: float) -> list[Effect]:
    source = grid_round(c)
    if source is None:
        raise Refused("There is no round to reroll yet: start one with /draft <prompt>.")
    require_budget(c)
    effects, beside = _replace_open_rounds(c, user, "/reroll")
    rnd = _new_round(c, "reroll", c.settings.n)
    rnd.beside = beside
    rnd.parent, rnd.init_image, rnd.strength = source.parent, source.init_image, source.strength
    seeds = round_seeds(c.id, rnd.number, c.settings.n)
    return effects + _start_round_job(c, rnd, seeds, user.id, now)


def select(c: Campaign, cmd: Select, user: User, now: float) -> list[Effect]:
    latest = grid_round(c)
    if latest is None:
        raise Refused("There is no grid to select from yet.")
    require_authority(c, user, "/select the winners")
    numbers = list(dict.fromkeys(cmd.numbers))
    if not numbers:
        raise Refused("Name the winners: /select 3 5")
    voting = open_rounds(c)
    rnd = round_of(c, numbers[0]) or (voting[-1] if voting else latest)
    if not rnd.open and rnd.winners:
        picked = ", ".join(f"#{n}" for n in rnd.winners)
        raise Refused(f"Round {rnd.number} already picked {picked}: /refine <n> to refine another one.")
    for number in numbers:
        if number not in rnd.candidates:
            raise Refused(f"#{number} isn't in round {rnd.number} ({holds_text(rnd)}).")
    require_budget(c)
    was_open = rnd.open
    effects: list[Effect] = close_one(rnd, "select", numbers) if was_open else []
    rnd.closed_by, rnd.winners = "select", numbers
    picked = ", ".join(f"#{n}" for n in numbers)
    votes = f" The round's {votes_summary(rnd)} were set aside." if was_open and rnd.tally else ""
    body = f"{_who(user)} selected {picked} in round {rnd.number}: refining.{votes}"
    effects.append(Post(message=render.text(c, body)))
    return effects + start_refine(c, numbers, user.id, now)


def open_voting(c: Campaign, rnd: Round, now: float) -> list[Effect]:
    s = c.settings
    rnd.open = True
    rnd.deadline = now + s.vote_seconds
    rnd.quorum = s.quorum
    rnd.top_k = s.top_k
    if c.stage not in TERMINAL_STAGES:  # work still running (a refine) goes on beside the vote
        c.stage = Stage.VOTING
    grids = render.voting_grids(c, rnd, now)
    return [
        OpenVoting(round_no=rnd.number, deadline=rnd.deadline),
        *(Post(message=grid) for grid in grids),
        UpdateStatus(text=render.status_line(c, now)),
    ]


def record_tally(c: Campaign, event: Tallied, now: float) -> list[Effect] | None:
    """A vote given or taken back: the round's counts, for the status line; None when it is closed."""
    rnd = find_round(c, event.round_no)
    if rnd is None or not rnd.open:
        return None
    tally: Tally = {n: voters for n, voters in event.tally.items() if n in rnd.candidates and voters}
    if tally == rnd.tally:
        return None
    rnd.tally = tally
    return [UpdateStatus(text=render.status_line(c, now))]


def _top_scored(c: Campaign, rnd: Round) -> list[int]:
    scored = [c.candidates[n] for n in rnd.candidates if c.candidates[n].score is not None]
    ranked = sorted(scored, key=lambda cand: (-(cand.score or 0.0), cand.number))
    return [cand.number for cand in ranked[: rnd.top_k]]


def close_round(c: Campaign, event: CloseRound, now: float) -> list[Effect] | None:
    """Close a round at its deadline or quorum; None when it is not open (already closed, unknown)."""
    rnd = find_round(c, event.round_no)
    if rnd is None or not rnd.open:
        return None
    tally: Tally = {n: voters for n, voters in event.tally.items() if n in rnd.candidates and voters}
    rnd.tally = tally
    picked = winners(tally, rnd.top_k)
    closed_by = event.reason
    why = "reached its quorum" if event.reason == "quorum" else "closed at its deadline"
    if not picked and c.settings.advance_on_silence:
        picked = _top_scored(c, rnd)
        closed_by = "scores" if picked else closed_by
    effects = close_one(rnd, closed_by, picked)
    if not picked:
        c.stage = resting_stage(c) if c.stage in (Stage.VOTING, Stage.PICKING) else c.stage
        how = "at its deadline" if event.reason == "deadline" else f"({event.reason})"
        body = (
            f"Round {rnd.number} closed with no votes {how}. Pick with /refine <n>, /vary <n>, /reroll "
            "or /select <n>."
        )
        return [*effects, Post(message=render.text(c, body)), UpdateStatus(text=render.status_line(c, now))]
    if closed_by == "scores":
        won = ", ".join(f"#{n} (score {c.candidates[n].score:.1f})" for n in picked)
        head = f"Round {rnd.number} {why} with no votes, so its top-scored drafts go on: {won}."
    else:
        counts = vote_counts(tally)
        won = ", ".join(f"#{n} ({votes_word(counts[n])})" for n in picked)
        head = (
            f"Round {rnd.number} {why} with {votes_summary(rnd)}: the team picked {won}."
            f"{tie_note(tally, picked)}"
        )
    if ledger.budget_spent(c):
        c.stage = resting_stage(c) if c.stage in (Stage.VOTING, Stage.PICKING) else c.stage
        body = f"{head} {ledger.budget_text(c)}"
        return [*effects, Post(message=render.text(c, body)), UpdateStatus(text=render.status_line(c, now))]
    body = f"{head} Refining at full quality."
    return [*effects, Post(message=render.text(c, body)), *start_refine(c, picked, c.owner, now)]
