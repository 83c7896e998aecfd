"""A command typed (or chosen from a slash menu) in a channel or a campaign thread."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from bot.core import machine, phrasing
from bot.core.commands import Command, Deliver, Draft, ScheduleAdd, ScheduleList, ScheduleRemove
from bot.core.events import CommandEvent
from bot.core.model import TERMINAL_STAGES, ThreadRef, User
from bot.usecases import channel, deliver, models, uploads
from bot.usecases.context import UseCaseContext
from bot.usecases.cycle import apply_event, start_campaign
from bot.usecases.schedules import ScheduleDesk


@dataclass(frozen=True)
class Typed:
    """A command as someone typed it: where, by whom, with which uploads."""

    platform: str
    channel_id: str
    thread_id: str | None
    user: User
    command: Command
    attachments: Mapping[str, bytes]


async def run_command(ctx: UseCaseContext, schedules: ScheduleDesk, typed: Typed) -> list[str]:
    """The replies for the person who typed it, phrased for where they typed it; what the thread should
    see goes through the presenter."""
    platform = typed.platform
    phrase = phrasing.for_thread(platform) if typed.thread_id is not None else phrasing.for_channel(platform)
    return [phrase.text(reply) for reply in await _run(ctx, schedules, typed, phrase)]


async def _run(
    ctx: UseCaseContext, schedules: ScheduleDesk, typed: Typed, phrase: phrasing.Phrasing
) -> list[str]:
    platform, channel_id, thread_id, user = typed.platform, typed.channel_id, typed.thread_id, typed.user
    try:
        command = await uploads.ImageResolver(ctx.artifacts, typed.attachments).command(typed.command)
    except uploads.UploadError as exc:
        return [str(exc)]
    campaign = None
    if thread_id is not None:
        campaign = await ctx.campaigns.for_thread(
            ThreadRef(platform=platform, channel_id=channel_id, thread_id=thread_id)
        )
    answer, command = await models.check_command(ctx, platform, channel_id, campaign, command)
    if answer is not None:
        return [answer]
    if isinstance(command, ScheduleAdd | ScheduleList | ScheduleRemove):
        if campaign is not None:
            return [machine.SCHEDULE_TEXT]
        return [await schedules.handle(platform, channel_id, user, command, ctx.clock())]
    if campaign is not None and isinstance(command, Draft) and campaign.stage in TERMINAL_STAGES:
        campaign = None  # a cancelled or failed campaign's thread: a new /draft starts afresh
    if campaign is None:
        if isinstance(command, Draft):
            return await start_campaign(ctx, platform, channel_id, user, command)
        return await channel.run(ctx, platform, channel_id, user, command, phrase)
    ref = getattr(command, "campaign", None)
    if ref is not None and not channel.matching([campaign], ref):
        return [channel.other_campaign_text(campaign, ref)]
    if isinstance(command, Deliver):
        return await deliver.deliver(ctx, campaign, user, command)
    return await apply_event(ctx, campaign.id, CommandEvent(user=user, command=command), user=user)
