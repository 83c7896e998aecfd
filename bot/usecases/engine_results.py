"""What the engine sends back: a result applied to its campaign, and step progress on the status line."""

from __future__ import annotations

import logging

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


def progress_text(kind: JobKind, step: int, total: int) -> str:
    return f"{_VERBS.get(kind, 'Working')}… step {step}/{total}"


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

    text = progress_text(pending.kind, progress.step, progress.total)
    await ctx.effects.show_progress(campaign, text, still_running, wait=wait)
