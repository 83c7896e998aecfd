"""What the engine sends back: a result applied to its campaign, and step progress on the status line."""

from __future__ import annotations

import logging

from bot.core import render
from bot.core.events import ResultEvent
from bot.state.campaigns import CampaignNotFound
from bot.usecases.context import UseCaseContext
from bot.usecases.cycle import apply_event
from engine.api import JobKind, Progress, Result

log = logging.getLogger(__name__)

_VERBS = {
    JobKind.DRAFT: "Drafting",
    JobKind.VARIATION: "Making variations",
    JobKind.REFINE: "Refining",
    JobKind.IMG2IMG: "Drafting",
    JobKind.INPAINT: "Inpainting",
    JobKind.OUTPAINT: "Outpainting",
    JobKind.UPSCALE: "Upscaling",
    JobKind.RESTORE_FACES: "Restoring faces",
}


async def apply_result(ctx: UseCaseContext, result: Result) -> None:
    try:
        await apply_event(ctx, result.campaign_id, ResultEvent(result=result), post_replies=True)
    except CampaignNotFound:
        log.info("result %s for a campaign that no longer exists", result.job_id)


def progress_text(
    kind: JobKind, step: int, total: int, elapsed: float | None = None, label: str | None = None
) -> str:
    """``Upscaling #11… step 3/4 · 75% · about 20s left``: the job, its share done and, with the time it has
    taken so far, an estimate of the rest."""
    what = label or _VERBS.get(kind, "Working")
    if step <= 0:
        return f"{what}… started · 0%"
    head = f"{what}… step {step}/{total}"
    if total <= 0:
        return head
    done = min(max(step / total, 0.0), 1.0)
    head += f" · {round(done * 100)}%"
    if elapsed is None or elapsed <= 0 or step <= 0 or step >= total:
        return head
    left = elapsed * (total - step) / step
    return head + f" · about {format_seconds_left(left)} left"


def format_seconds_left(seconds: float) -> str:
    whole = max(round(seconds), 1)
    if whole < 60:
        return f"{whole}s"
    minutes, rest = divmod(whole, 60)
    return f"{minutes} min {rest}s" if rest else f"{minutes} min"


async def relay_progress(ctx: UseCaseContext, progress: Progress, *, wait: bool = True) -> None:
    """Hand the step to the campaign's status edits (paced, newest wins); ``wait``: until it is shown."""
    campaign = await ctx.campaigns.load(progress.campaign_id)
    if campaign is None:
        return
    pending = campaign.pending.get(progress.job_id)
    if pending is None:  # finished or cancelled: its last steps arrive after the status moved on
        return

    async def still_running() -> bool:
        current = await ctx.campaigns.load(progress.campaign_id)
        return current is not None and progress.job_id in current.pending

    elapsed = max(ctx.clock() - pending.created_at, 0.0) if pending.created_at else None
    text = progress_text(pending.kind, progress.step, progress.total, elapsed, render.job_label(pending))
    await ctx.effects.show_progress(campaign, text, still_running, wait=wait)
