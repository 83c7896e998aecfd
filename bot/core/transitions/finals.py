"""Full quality and after: refine, inpaint, outpaint, face restore, upscale."""

from __future__ import annotations

from typing import Any

from bot.core import render
from bot.core.commands import Faces, Inpaint, Outpaint, Refine, Upscale
from bot.core.effects import Effect, Post, UpdateStatus
from bot.core.messages import GRID_SIZE, NUMBER_EMOJI
from bot.core.model import Campaign, Stage, User
from bot.core.transitions import regions
from bot.core.transitions.base import (
    Refused,
    aspect_of,
    close_one,
    has_authority,
    issue,
    require_budget,
    require_finished,
    require_refined,
)
from bot.core.vote_text import votes_summary
from bot.core.voting import grid_round, open_rounds, round_of
from engine.api import MaskSpec

REFINE_STRENGTH = 0.45
DEFAULT_ZOOM = 1.5


def start_refine(
    c: Campaign,
    numbers: list[int],
    user_id: str,
    now: float,
    aspect: tuple[int, int] | None = None,
    preset: str | None = None,
) -> list[Effect]:
    """One refine job per winner: same seed, final preset, the campaign's aspect ratio."""
    effects: list[Effect] = []
    for number in numbers:
        cand = c.candidates[number]
        effects.append(
            issue(
                c,
                now,
                user_id,
                Stage.REFINING,
                round_no=cand.round_no,
                parent=number,
                references=cand.references,
                kind="refine",
                prompt=cand.prompt,
                negative=cand.negative,
                seeds=[cand.seed],
                preset=preset or c.settings.final_preset,
                aspect=aspect or c.settings.aspect,
                init_image=cand.artifact,
                strength=REFINE_STRENGTH,
                loras=cand.loras,
                model=cand.model,
            )
        )
    c.selected = list(numbers)
    if not open_rounds(c):  # else the refine runs beside the vote still open
        c.stage = Stage.REFINING
    return [*effects, UpdateStatus(text=render.status_line(c, now))]


def _vote_hint(c: Campaign, number: int) -> str:
    """How to back a candidate of an open round without closing it: its number reaction."""
    rnd = round_of(c, number)
    if rnd is None or not rnd.open:
        return ""
    position = rnd.candidates.index(number) % GRID_SIZE
    return f" Your vote counts: react with {NUMBER_EMOJI[position]} under #{number}'s grid."


def refine(c: Campaign, cmd: Refine, user: User, now: float) -> list[Effect]:
    rnd = grid_round(c)
    effects: list[Effect] = []
    if cmd.number is not None:
        require_finished(c, cmd.number)
        numbers = [cmd.number]
        own = round_of(c, cmd.number)
        if own is not None and own.open:
            if not has_authority(c, user):
                raise Refused(
                    f"Refining #{cmd.number} now would end round {own.number}'s vote early: only the owner "
                    f"or an approver can do that.{_vote_hint(c, cmd.number)}"
                )
            effects += close_one(own, "select", numbers)
            votes = f"; its {votes_summary(own)} were set aside" if own.tally else ""
            body = f"Round {own.number} closed: {user.name or user.id} refined #{cmd.number}{votes}."
            effects.append(Post(message=render.text(c, body)))
    elif rnd is not None and rnd.open:
        raise Refused(
            f"Voting on round {rnd.number} is still open: its winners are refined when it closes, "
            "or the owner can /select <n>."
        )
    else:
        numbers = list(rnd.winners) if rnd is not None else []
        if not numbers:
            where = f"Round {rnd.number} has" if rnd is not None else "There are"
            raise Refused(f"{where} no winners yet: /refine <n> or /select <n>.")
    require_budget(c)
    if cmd.aspect is not None:
        c.settings.aspect = cmd.aspect
    return effects + start_refine(c, numbers, user.id, now, cmd.aspect, cmd.preset)


def _edit(
    c: Campaign,
    number: int,
    user: User,
    now: float,
    stage: Stage,
    *,
    prompt: str | None = None,
    **fields: Any,
) -> list[Effect]:
    """A post-edit of one finished candidate. Asked for while voting, it runs beside the vote."""
    cand = require_finished(c, number)
    require_budget(c)
    enqueue = issue(
        c,
        now,
        user.id,
        stage,
        round_no=cand.round_no,
        parent=number,
        references=cand.references,
        prompt=prompt if prompt is not None else cand.prompt,
        negative=cand.negative,
        seeds=[cand.seed],
        preset=c.settings.final_preset,
        aspect=aspect_of(cand, c.settings.aspect),
        init_image=cand.artifact,
        loras=cand.loras,
        model=cand.model,
        **fields,
    )
    effects: list[Effect] = [enqueue]
    if c.stage in (Stage.VOTING, Stage.PICKING) and open_rounds(c):
        label = render.job_label(c.pending[enqueue.job.job_id])
        effects.append(Post(message=render.text(c, f"{label} while the vote goes on.")))
    else:
        c.stage = stage
    return [*effects, UpdateStatus(text=render.status_line(c, now))]


def inpaint(c: Campaign, cmd: Inpaint, user: User, now: float) -> list[Effect]:
    cand = require_refined(c, cmd.number, "/inpaint")
    if cmd.mask:
        mask = MaskSpec(image=cmd.mask)
    elif cmd.box is not None or cmd.box_percent is not None:
        mask = MaskSpec(box=regions.box_in_pixels(cand, cmd.box, cmd.box_percent))
    elif cmd.faces:
        mask = MaskSpec(faces=True)
    else:
        raise Refused(
            "Say what to repaint: box x,y,w,h, faces, or attach a mask. "
            "Example: `/inpaint 3 a red scarf box 120,80,200,160`"
        )
    return _edit(c, cmd.number, user, now, Stage.INPAINTING, prompt=cmd.prompt, kind="inpaint", mask=mask)


def outpaint(c: Campaign, cmd: Outpaint, user: User, now: float) -> list[Effect]:
    require_refined(c, cmd.number, "/outpaint")
    zoom = cmd.zoom if cmd.zoom is not None or cmd.pan is not None else DEFAULT_ZOOM
    return _edit(c, cmd.number, user, now, Stage.OUTPAINTING, kind="outpaint", zoom=zoom, pan=cmd.pan)


def faces(c: Campaign, cmd: Faces, user: User, now: float) -> list[Effect]:
    return _edit(c, cmd.number, user, now, Stage.RESTORING, kind="restore_faces", face_restore=True)


def upscale(c: Campaign, cmd: Upscale, user: User, now: float) -> list[Effect]:
    try:
        require_refined(c, cmd.number, "/upscale")
    except Refused as refused:
        raise Refused(refused.text + _vote_hint(c, cmd.number)) from None
    return _edit(
        c, cmd.number, user, now, Stage.UPSCALING, kind="upscale", scale=cmd.scale, face_restore=cmd.faces
    )
