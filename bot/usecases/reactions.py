"""A number reaction added to or removed from a voting grid: a vote, an unvote, or a refusal."""

from __future__ import annotations

from bot.core import voting
from bot.core.events import CloseRound, Tallied
from bot.core.model import Campaign, User
from bot.usecases.context import UseCaseContext
from bot.usecases.cycle import apply_event
from bot.usecases.standing import SharedReads, StandingRefresher


async def react(
    ctx: UseCaseContext,
    standing: StandingRefresher,
    campaigns: SharedReads[Campaign | None],
    platform: str,
    message_id: str,
    emoji: str,
    user: User,
    added: bool,
) -> str | None:
    """The refusal to show the voter, if any. Every vote counted (or taken back) is on the round's standing
    (voters, leader, status line) when this returns; a vote that reaches the quorum closes the round."""
    ref = await ctx.messages.lookup_grid(platform, message_id)
    if ref is None:
        return None
    campaign_id, round_no, grid_index = ref
    campaign = await campaigns.get(campaign_id)
    rnd = voting.find_round(campaign, round_no) if campaign is not None else None
    if campaign is None or rnd is None:
        return None
    number = voting.vote_for_emoji(emoji, rnd, grid_index)
    if number is None:
        return None
    if not added:
        if rnd.open:
            await ctx.votes.remove(campaign_id, round_no, number, user.id)
            await standing.after_vote(campaign_id, round_no)
        return None
    refusal = voting.check_vote(campaign, round_no, number, user)
    if refusal is not None:
        return refusal
    await ctx.votes.add(campaign_id, round_no, number, user.id, ctx.clock())
    # also on a repeated vote: the attempt that stored it may have stopped before closing
    await standing.after_vote(campaign_id, round_no)
    return None


async def refresh_standing(ctx: UseCaseContext, campaign_id: str, round_no: int) -> None:
    """The round's tally as Redis holds it now, saved with the campaign and shown on its status line;
    the round closes when it reached its quorum. Nothing for a round already closed."""
    campaign = await ctx.campaigns.load(campaign_id)
    rnd = voting.find_round(campaign, round_no) if campaign is not None else None
    if rnd is None or not rnd.open:
        return
    tally = await ctx.votes.tally(campaign_id, round_no, rnd.candidates)
    reached = bool(rnd.quorum) and voting.quorum_reached(tally, rnd.quorum)
    event = CloseRound(round_no=round_no, reason="quorum", tally=tally) if reached else None
    await apply_event(ctx, campaign_id, event or Tallied(round_no=round_no, tally=tally), post_replies=True)
