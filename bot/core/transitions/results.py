"""Results from the engine: new candidates, the ledger, and the stage that follows."""

from __future__ import annotations

from bot.core import render
from bot.core.effects import CancelJobs, Effect, Post, UpdateStatus
from bot.core.ledger import DRAFT_KINDS
from bot.core.model import TERMINAL_STAGES, Campaign, Candidate, LedgerEntry, PendingJob, Stage
from bot.core.transitions.base import remember_applied
from bot.core.transitions.rounds import open_voting
from bot.core.voting import find_round, grid_round, open_rounds
from engine.api import JobKind, Result

_EDIT_WORD = {
    JobKind.INPAINT: "Inpainted",
    JobKind.OUTPAINT: "Outpainted",
    JobKind.RESTORE_FACES: "Restored the faces of",
}


def apply_result(c: Campaign, result: Result, now: float) -> list[Effect] | None:
    """None when the result was applied before or belongs to no pending job: nothing changes."""
    if result.campaign_id != c.id or result.job_id in c.applied_results or result.job_id not in c.pending:
        return None
    job = c.pending.pop(result.job_id)
    remember_applied(c, result.job_id)
    images = result.images if result.ok else []
    c.ledger.append(
        LedgerEntry(
            at=now,
            job_id=job.job_id,
            kind=job.kind,
            user=job.requested_by,
            images=len(images),
            device_seconds=result.device_seconds,
        )
    )
    if not images:
        reason = result.error or "the engine returned no images"
        effects: list[Effect] = [Post(message=render.text(c, render.failure_text(job, reason)))]
        return effects + _after(c, job, [], reason, now)
    cands = _add_candidates(c, job, result)
    return _announce(c, job, cands) + _after(c, job, cands, None, now)


def _add_candidates(c: Campaign, job: PendingJob, result: Result) -> list[Candidate]:
    share = result.device_seconds / len(result.images)
    parent_round = c.candidates[job.parent].round_no if job.parent in c.candidates else 0
    round_no = job.round_no if job.round_no is not None else parent_round
    rnd = find_round(c, round_no) if job.stage is Stage.DRAFTING else None
    cands: list[Candidate] = []
    for image in result.images:
        cand = Candidate(
            number=c.next_number,
            round_no=round_no,
            stage=job.kind,
            parent=job.parent,
            seed=image.seed,
            prompt=job.prompt,
            negative=job.negative,
            preset=job.preset,
            model=job.model,
            loras=job.loras,
            references=job.references,
            mask=job.mask,
            strength=job.strength,
            width=image.width,
            height=image.height,
            device_seconds=share,
            artifact=image.artifact,
            job_id=job.job_id,
            score=image.score,
        )
        c.candidates[cand.number] = cand
        c.next_number += 1
        cands.append(cand)
        if rnd is not None:
            rnd.candidates.append(cand.number)
    return cands


def _announce(c: Campaign, job: PendingJob, cands: list[Candidate]) -> list[Effect]:
    """Post what a finished job made; drafts wait for the whole round's grid."""
    if job.kind in DRAFT_KINDS:
        return []
    numbers = ", ".join(f"#{cand.number}" for cand in cands)
    if job.kind is JobKind.UPSCALE:
        effects: list[Effect] = []
        for cand in cands:
            c.deliverables.append(cand.number)
            effects.append(Post(message=render.delivered_grid(c, cand)))
        return effects
    if job.kind is JobKind.REFINE:
        first = cands[0]
        body = f"Refined #{job.parent} at full quality ({first.width}x{first.height}): {numbers}."
    else:
        body = f"{_EDIT_WORD[job.kind]} #{job.parent}: {numbers}."
    return [Post(message=render.edit_grid(c, cands, body))]


def _after(
    c: Campaign, job: PendingJob, cands: list[Candidate], failure: str | None, now: float
) -> list[Effect]:
    """Move on once the stage's last job is in. Jobs run beside a vote leave the stage alone."""
    if job.stage is Stage.DRAFTING:
        return _round_done(c, job, failure, now)
    if job.stage is not c.stage or any(p.stage is c.stage for p in c.pending.values()):
        return [UpdateStatus(text=render.status_line(c, now))]
    effects: list[Effect] = []
    if c.stage is Stage.REFINING:
        if any(cand.stage is JobKind.REFINE for cand in c.candidates.values()):
            c.stage = Stage.EDITING
        else:
            effects += _rest(c, failure or "no images were made", prefer_voting=False, now=now)
    elif c.stage is Stage.UPSCALING and cands:
        c.stage = Stage.DONE
        c.finished_at = now
    elif cands:
        c.stage = Stage.EDITING
    else:
        effects += _rest(c, failure or "no images were made", prefer_voting=False, now=now)
    if c.stage in (Stage.EDITING, Stage.DONE) and open_rounds(c):
        c.stage = Stage.VOTING
    return [*effects, UpdateStatus(text=render.status_line(c, now))]


def _round_done(c: Campaign, job: PendingJob, failure: str | None, now: float) -> list[Effect]:
    """A round's grid opens for votes once its last job is in, also when it was drafted beside another
    round's vote; a round that made nothing leaves the campaign where the team can act."""
    rnd = find_round(c, job.round_no or 0)
    still = any(p.round_no == job.round_no and p.stage is Stage.DRAFTING for p in c.pending.values())
    if still or c.stage in TERMINAL_STAGES:
        return [UpdateStatus(text=render.status_line(c, now))]
    if rnd is not None and rnd.candidates:
        return open_voting(c, rnd, now)
    drafting = any(p.stage is Stage.DRAFTING for p in c.pending.values())
    effects: list[Effect] = []
    if c.stage is Stage.DRAFTING and not drafting:
        effects += _rest(c, failure or "no images were made", prefer_voting=True, now=now)
    return [*effects, UpdateStatus(text=render.status_line(c, now))]


def _rest(c: Campaign, reason: str, *, prefer_voting: bool, now: float) -> list[Effect]:
    """After a failure: back to a stage where the team can act, or FAILED when there is none."""
    can_vote = grid_round(c) is not None
    can_edit = any(cand.stage not in DRAFT_KINDS for cand in c.candidates.values())
    order = [(can_vote, Stage.VOTING if open_rounds(c) else Stage.PICKING), (can_edit, Stage.EDITING)]
    if not prefer_voting:
        order.reverse()
    for possible, stage in order:
        if possible:
            c.stage = stage
            return []
    c.stage = Stage.FAILED
    c.failure = reason
    c.finished_at = now
    effects: list[Effect] = []
    if c.pending:
        effects.append(CancelJobs(job_ids=tuple(c.pending)))
        c.pending = {}
    body = f"The campaign failed: {reason}. Start a new one with /draft in the channel."
    return [*effects, Post(message=render.text(c, body))]
