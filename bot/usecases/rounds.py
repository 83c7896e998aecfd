"""Voting rounds whose deadline passed: each is closed, and its winners refined, by exactly one replica."""

from __future__ import annotations

from bot.core import voting
from bot.core.events import CloseRound
from bot.state.campaigns import CampaignNotFound
from bot.usecases.context import UseCaseContext
from bot.usecases.cycle import apply_event


async def close_due_rounds(ctx: UseCaseContext, now: float) -> int:
    """Returns how many rounds this replica closed."""
    closed = 0
    for campaign_id, round_no in await ctx.deadlines.due(now):
        if not await ctx.deadlines.claim(campaign_id, round_no):
            continue
        deadline_lost = True
        try:
            campaign = await ctx.campaigns.load(campaign_id)
            rnd = voting.find_round(campaign, round_no) if campaign is not None else None
            if rnd is None:
                deadline_lost = False
                continue
            tally = await ctx.votes.tally(campaign_id, round_no, rnd.candidates)
            await apply_event(
                ctx,
                campaign_id,
                CloseRound(round_no=round_no, reason="deadline", tally=tally),
                post_replies=True,
            )
            deadline_lost = False
            closed += 1
        except CampaignNotFound:
            deadline_lost = False
        finally:
            if deadline_lost:  # put it back so a replica retries
                await ctx.deadlines.set(campaign_id, round_no, now)
    return closed
