"""A number reaction added to or removed from a voting grid: a vote, an unvote, or a refusal."""

from __future__ import annotations

from bot.core import voting
from bot.core.events import CloseRound
from bot.core.model import User
from bot.usecases.context import UseCaseContext
from bot.usecases.cycle import apply_event


async def react(
    ctx: UseCaseContext, platform: str, message_id: str, emoji: str, user: User, added: bool
) -> str | None:
    """The refusal to show the voter, if any; a vote that reaches the quorum closes the round."""
    ref = await ctx.messages.lookup(platform, message_id)
    if ref is None:
        return None
    campaign_id, round_no = ref
    campaign = await ctx.campaigns.load(campaign_id)
    rnd = voting.find_round(campaign, round_no) if campaign is not None else None
    if campaign is None or rnd is None:
        return None
    number = voting.vote_for_emoji(emoji, rnd)
    if number is None:
        return None
    if not added:
        if rnd.open:
            await ctx.votes.remove(campaign_id, round_no, number, user.id)
        return None
    refusal = voting.check_vote(campaign, round_no, number, user)
    if refusal is not None:
        return refusal
    await ctx.votes.add(campaign_id, round_no, number, user.id, ctx.clock())
    if rnd.quorum:  # also on a repeated vote: the attempt that stored it may have stopped before closing
        tally = await ctx.votes.tally(campaign_id, round_no, rnd.candidates)
        if voting.quorum_reached(tally, rnd.quorum):
            await apply_event(
                ctx,
                campaign_id,
                CloseRound(round_no=round_no, reason="quorum", tally=tally),
                post_replies=True,
            )
    return None
