"""Rounds: drafting, variations, rerolls, voting and picking the winners."""

from __future__ import annotations

from bot.core import ledger, render
from bot.core.commands import Draft, Reroll, Select, Vary
from bot.core.effects import CloseVoting, Effect, OpenVoting, Post, UpdateStatus
from bot.core.events import CloseRound, Tally
from bot.core.model import Campaign, Round, Settings, Stage, User
from bot.core.transitions.base import (
    Refused,
    close_open_round,
    issue,
    model_field,
    require_authority,
    require_budget,
    require_finished,
    round_seeds,
)
from bot.core.transitions.finals import start_refine
from bot.core.voting import find_round, grid_round, holds_text, vote_counts, winners

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


def _start_round_job(c: Campaign, rnd: Round, seeds: list[int], user_id: str, now: float) -> list[Effect]:
    s = c.settings
    if rnd.parent is not None:
        source = c.candidates[rnd.parent]
        enqueue = issue(
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
    else:
        refs = [*s.style_refs, *(r for r in (s.character_ref, s.control_image, rnd.init_image) if r)]
        enqueue = issue(
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
    c.stage = Stage.DRAFTING
    return [enqueue, UpdateStatus(text=render.status_line(c))]


def draft(c: Campaign, cmd: Draft, user: User, now: float) -> list[Effect]:
    require_budget(c)
    prompt = cmd.prompt.strip() or c.settings.prompt
    if not prompt:
        raise Refused("Say what to draw: /draft <prompt>, for example `/draft a red fox in snow --n 8`.")
    _merge(c.settings, cmd, prompt)
    effects = close_open_round(c, "superseded", [])
    rnd = _new_round(c, "draft", c.settings.n)
    if cmd.image:
        rnd.init_image = cmd.image
        rnd.strength = cmd.strength if cmd.strength is not None else IMG2IMG_STRENGTH
    seeds = round_seeds(c.id, rnd.number, c.settings.n, cmd.seed)
    return effects + _start_round_job(c, rnd, seeds, user.id, now)


def vary(c: Campaign, cmd: Vary, user: User, now: float) -> list[Effect]:
    source = require_finished(c, cmd.number)
    require_budget(c)
    effects = close_open_round(c, "superseded", [])
    rnd = _new_round(c, "variation", c.settings.n)
    rnd.parent = source.number
    rnd.init_image = source.artifact
    rnd.strength = VARY_STRENGTH[cmd.strength]
    seeds = round_seeds(c.id, rnd.number, c.settings.n)
    return effects + _start_round_job(c, rnd, seeds, user.id, now)


def reroll(c: Campaign, cmd: Reroll, user: User, now: float) -> list[Effect]:
    source = grid_round(c)
    if source is None:
        raise Refused("There is no round to reroll yet: start one with /draft <prompt>.")
    require_budget(c)
    effects = close_open_round(c, "superseded", [])
    rnd = _new_round(c, "reroll", c.settings.n)
    rnd.parent, rnd.init_image, rnd.strength = source.parent, source.init_image, source.strength
    seeds = round_seeds(c.id, rnd.number, c.settings.n)
    return effects + _start_round_job(c, rnd, seeds, user.id, now)


def select(c: Campaign, cmd: Select, user: User, now: float) -> list[Effect]:
    rnd = grid_round(c)
    if rnd is None:
        raise Refused("There is no grid to select from yet.")
    require_authority(c, user, "/select the winners")
    if not rnd.open and rnd.winners:
        picked = ", ".join(f"#{n}" for n in rnd.winners)
        raise Refused(f"Round {rnd.number} already picked {picked}: /refine <n> to refine another one.")
    numbers = list(dict.fromkeys(cmd.numbers))
    if not numbers:
        raise Refused("Name the winners: /select 3 5")
    for number in numbers:
        if number not in rnd.candidates:
            raise Refused(f"#{number} isn't in round {rnd.number} ({holds_text(rnd)}).")
    require_budget(c)
    was_open = rnd.open
    rnd.open, rnd.closed_by, rnd.winners = False, "select", numbers
    effects: list[Effect] = [CloseVoting(round_no=rnd.number)] if was_open else []
    picked = ", ".join(f"#{n}" for n in numbers)
    who = user.name or user.id
    effects.append(Post(message=render.text(c, f"{who} selected {picked} in round {rnd.number}: refining.")))
    return effects + start_refine(c, numbers, user.id, now)


def open_voting(c: Campaign, rnd: Round, now: float) -> list[Effect]:
    s = c.settings
    rnd.open = True
    rnd.deadline = now + s.vote_seconds
    rnd.quorum = s.quorum
    rnd.top_k = s.top_k
    c.stage = Stage.VOTING
    return [
        OpenVoting(round_no=rnd.number, deadline=rnd.deadline),
        Post(message=render.voting_grid(c, rnd)),
        UpdateStatus(text=render.status_line(c)),
    ]


def _votes_word(count: int) -> str:
    return f"{count} vote{'s' if count != 1 else ''}"


def close_round(c: Campaign, event: CloseRound, now: float) -> list[Effect] | None:
    """Close a round at its deadline or quorum; None when it is not open (already closed, unknown)."""
    rnd = find_round(c, event.round_no)
    if rnd is None or not rnd.open:
        return None
    tally: Tally = {n: voters for n, voters in event.tally.items() if n in rnd.candidates}
    picked = winners(tally, rnd.top_k)
    rnd.open, rnd.closed_by, rnd.winners = False, event.reason, picked
    effects: list[Effect] = [CloseVoting(round_no=rnd.number)]
    why = "reached its quorum" if event.reason == "quorum" else "closed at its deadline"
    if not picked:
        body = (
            f"Round {rnd.number} closed with no votes. Pick with /refine <n>, /vary <n>, /reroll "
            "or /select <n>."
        )
        return [*effects, Post(message=render.text(c, body)), UpdateStatus(text=render.status_line(c))]
    counts = vote_counts(tally)
    won = ", ".join(f"#{n} ({_votes_word(counts[n])})" for n in picked)
    if ledger.budget_spent(c):
        body = f"Round {rnd.number} {why}: the team picked {won}. {ledger.budget_text(c)}"
        return [*effects, Post(message=render.text(c, body)), UpdateStatus(text=render.status_line(c))]
    body = f"Round {rnd.number} {why}: the team picked {won}. Refining at full quality."
    return [*effects, Post(message=render.text(c, body)), *start_refine(c, picked, c.owner, now)]
