"""Shared steps of the campaign transitions: issuing jobs, seeds, guards."""

from __future__ import annotations

import hashlib
from math import gcd
from typing import Any

from bot.core import ledger
from bot.core.effects import CloseVoting, Effect, Enqueue
from bot.core.model import Campaign, Candidate, PendingJob, Round, Stage, User
from engine.api import Job

SEED_SPACE = 2**32
MAX_APPLIED_RESULTS = 500


class Refused(Exception):
    """A command that cannot run; the text is the answer to the person who sent it."""

    def __init__(self, text: str) -> None:
        super().__init__(text)
        self.text = text


def derived_seed(campaign_id: str, round_no: int, index: int) -> int:
    digest = hashlib.sha256(f"{campaign_id}:{round_no}:{index}".encode()).digest()
    return int.from_bytes(digest[:8], "big") % SEED_SPACE


def round_seeds(campaign_id: str, round_no: int, n: int, first: int | None = None) -> list[int]:
    if first is not None:
        return [(first + i) % SEED_SPACE for i in range(n)]
    return [derived_seed(campaign_id, round_no, i) for i in range(n)]


def model_field(model: str) -> dict[str, Any]:
    """An empty model name leaves the choice to the engine's default."""
    return {"model": model} if model else {}


def issue(
    c: Campaign,
    now: float,
    user_id: str,
    stage: Stage,
    *,
    round_no: int | None = None,
    parent: int | None = None,
    references: list[str] | None = None,
    **job_fields: Any,
) -> Enqueue:
    """Create the next job of the campaign and remember it as pending."""
    c.counter += 1
    job = Job(job_id=f"{c.id}.j{c.counter}", campaign_id=c.id, created_at=now, user=user_id, **job_fields)
    c.pending[job.job_id] = PendingJob(
        job_id=job.job_id,
        kind=job.kind,
        stage=stage,
        round_no=round_no,
        parent=parent,
        expected=len(job.seeds),
        requested_by=user_id,
        created_at=now,
        prompt=job.prompt,
        negative=job.negative,
        preset=job.preset,
        model=job.model,
        loras=list(job.loras),
        references=list(references or []),
        mask=job.mask,
        strength=job.strength,
    )
    return Enqueue(job=job)


def has_authority(c: Campaign, user: User) -> bool:
    """The owner and approvers may close a round; everyone else closes one only by voting to quorum."""
    return user.id == c.owner or user.is_approver


def require_authority(c: Campaign, user: User, action: str) -> None:
    if not has_authority(c, user):
        raise Refused(f"Only the campaign owner or an approver can {action}.")


def require_refined(c: Campaign, number: int, action: str) -> Candidate:
    """A finished candidate that is not a draft: upscales and region edits work on refined images."""
    cand = require_finished(c, number)
    if cand.stage in ledger.DRAFT_KINDS:
        raise Refused(
            f"#{number} is a draft: {action} works on refined images. Refine it first with /refine {number}, "
            "then use the refined image's number."
        )
    return cand


def require_budget(c: Campaign) -> None:
    if ledger.budget_spent(c):
        raise Refused(ledger.budget_text(c))


def require_finished(c: Campaign, number: int) -> Candidate:
    cand = c.candidates.get(number)
    if cand is None:
        have = f"it has #1–#{c.next_number - 1}" if c.next_number > 1 else "it has no images yet"
        raise Refused(f"There is no #{number} in this campaign ({have}).")
    if not cand.artifact:
        raise Refused(f"#{number} is still being made: wait for it to be posted.")
    return cand


def close_open_round(c: Campaign, closed_by: str, winners: list[int]) -> list[Effect]:
    effects: list[Effect] = []
    for rnd in c.rounds:
        if rnd.open:
            effects += close_one(rnd, closed_by, winners)
    return effects


def close_one(rnd: Round, closed_by: str, winners: list[int]) -> list[Effect]:
    rnd.open = False
    rnd.closed_by = closed_by
    rnd.winners = list(winners)
    return [CloseVoting(round_no=rnd.number)]


def resting_stage(c: Campaign) -> Stage:
    """Where the campaign rests when no stage's work is running: a vote, edits, or a pick to make."""
    if any(rnd.open for rnd in c.rounds):
        return Stage.VOTING
    if c.deliverables:
        return Stage.DONE
    if any(cand.stage not in ledger.DRAFT_KINDS for cand in c.candidates.values()):
        return Stage.EDITING
    return Stage.PICKING


def remember_applied(c: Campaign, job_id: str) -> None:
    c.applied_results.append(job_id)
    del c.applied_results[:-MAX_APPLIED_RESULTS]


def aspect_of(cand: Candidate, fallback: tuple[int, int]) -> tuple[int, int]:
    if cand.width <= 0 or cand.height <= 0:
        return fallback
    d = gcd(cand.width, cand.height)
    return (cand.width // d, cand.height // d)
