"""A command typed (or chosen from a slash menu) in a channel or a campaign thread."""

from __future__ import annotations

from collections.abc import Mapping

from bot.core import machine, phrasing
from bot.core.commands import Command, Draft, ScheduleAdd, ScheduleList, ScheduleRemove
from bot.core.events import CommandEvent
from bot.core.model import TERMINAL_STAGES, ThreadRef, User
from bot.usecases import channel, models, uploads
from bot.usecases.context import UseCaseContext
from bot.usecases.cycle import apply_event, start_campaign
from bot.usecases.schedules import ScheduleDesk


async def run_command(
    ctx: UseCaseContext,
    schedules: ScheduleDesk,
    platform: str,
    channel_id: str,
    thread_id: str | None,
    user: User,
    command: Command,
    attachments: Mapping[str, bytes],
) -> list[str]:
    """The replies for the person who typed it, phrased for where they typed it; what the thread should
    see goes through the presenter."""
    phrase = phrasing.for_thread(platform) if thread_id is not None else phrasing.for_channel(platform)
    replies = await _run(ctx, schedules, platform, channel_id, thread_id, user, command, attachments, phrase)
    return [phrase.text(reply) for reply in replies]


async def _run(
    ctx: UseCaseContext,
    schedules: ScheduleDesk,
    platform: str,
    channel_id: str,
    thread_id: str | None,
    user: User,
    command: Command,
    attachments: Mapping[str, bytes],
    phrase: phrasing.Phrasing,
) -> list[str]:
    try:
        command = await uploads.ImageResolver(ctx.artifacts, attachments).command(command)
    except uploads.UploadError as exc:
        return [str(exc)]
    draft = command.draft if isinstance(command, ScheduleAdd) else command
    if isinstance(draft, Draft):
        answer = await models.unknown_model_answer(ctx.workers, draft.model, ctx.clock())
        if answer is not None:
            return [answer]
    campaign = None
    if thread_id is not None:
        campaign = await ctx.campaigns.for_thread(
            ThreadRef(platform=platform, channel_id=channel_id, thread_id=thread_id)
        )
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
    return await apply_event(ctx, campaign.id, CommandEvent(user=user, command=command), user=user)
