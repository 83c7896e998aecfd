"""Full quality and after: refine, inpaint, outpaint, face restore, upscale."""

from __future__ import annotations

from typing import Any

from bot.core import render
from bot.core.commands import Faces, Inpaint, Outpaint, Refine, Upscale
from bot.core.effects import Effect, Post, UpdateStatus
from bot.core.model import Campaign, Stage, User
from bot.core.transitions.base import (
    Refused,
    aspect_of,
    close_open_round,
    issue,
    require_authority,
    require_budget,
    require_finished,
)
from bot.core.voting import grid_round
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
    c.stage = Stage.REFINING
    return [*effects, UpdateStatus(text=render.status_line(c))]


def refine(c: Campaign, cmd: Refine, user: User, now: float) -> list[Effect]:
    rnd = grid_round(c)
    effects: list[Effect] = []
    if cmd.number is not None:
        require_finished(c, cmd.number)
        numbers = [cmd.number]
        if rnd is not None and rnd.open:
            require_authority(c, user, "end the vote early with /refine")
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
    if rnd is not None and rnd.open:
        effects += close_open_round(c, "select", numbers)
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
    if c.stage is Stage.VOTING:
        label = render.job_label(c.pending[enqueue.job.job_id])
        effects.append(Post(message=render.text(c, f"{label} while the vote goes on.")))
    else:
        c.stage = stage
    return [*effects, UpdateStatus(text=render.status_line(c))]


def inpaint(c: Campaign, cmd: Inpaint, user: User, now: float) -> list[Effect]:
    if cmd.mask:
        mask = MaskSpec(image=cmd.mask)
    elif cmd.box is not None:
        mask = MaskSpec(box=cmd.box)
    elif cmd.faces:
        mask = MaskSpec(faces=True)
    else:
        raise Refused(
            "Say what to repaint: box x,y,w,h, faces, or attach a mask. "
            "Example: `/inpaint 3 a red scarf box 120,80,200,160`"
        )
    return _edit(c, cmd.number, user, now, Stage.INPAINTING, prompt=cmd.prompt, kind="inpaint", mask=mask)


def outpaint(c: Campaign, cmd: Outpaint, user: User, now: float) -> list[Effect]:
    zoom = cmd.zoom if cmd.zoom is not None or cmd.pan is not None else DEFAULT_ZOOM
    return _edit(c, cmd.number, user, now, Stage.OUTPAINTING, kind="outpaint", zoom=zoom, pan=cmd.pan)


def faces(c: Campaign, cmd: Faces, user: User, now: float) -> list[Effect]:
    return _edit(c, cmd.number, user, now, Stage.RESTORING, kind="restore_faces", face_restore=True)


def upscale(c: Campaign, cmd: Upscale, user: User, now: float) -> list[Effect]:
    return _edit(
        c, cmd.number, user, now, Stage.UPSCALING, kind="upscale", scale=cmd.scale, face_restore=cmd.faces
    )
