"""A button pressed under a bot message: its action id names the campaign, the candidate and the command."""

from __future__ import annotations

from bot.core import phrasing
from bot.core.buttons import command_for
from bot.core.commands import CommandError
from bot.core.events import CommandEvent
from bot.core.model import User
from bot.usecases.context import UseCaseContext
from bot.usecases.cycle import apply_event

NOT_OURS = "That button isn't one of this bot's buttons."
GONE = "This campaign no longer exists (finished campaigns are kept for a limited time)."


async def press(
    ctx: UseCaseContext, platform: str, action: str, campaign_id: str, number: int, arg: str, user: User
) -> list[str]:
    campaign = await ctx.campaigns.load(campaign_id)
    if campaign is None or campaign.thread.platform != platform:
        return [GONE]
    command = command_for(campaign, action, number, arg)
    if command is None:
        return [f"The button action '{action}' is not supported any more."]
    if isinstance(command, CommandError):
        return [phrasing.for_thread(platform).text(f"That button can't be used: {command.message}")]
    return await apply_event(ctx, campaign_id, CommandEvent(user=user, command=command), user=user)
