"""/schedule add, list and remove, and firing the schedules that are due."""

from __future__ import annotations

import logging
import secrets
from collections.abc import Awaitable, Callable, Collection

from bot.core import machine
from bot.core.commands import Draft, ScheduleAdd, ScheduleList, ScheduleRemove
from bot.core.effects import Enqueue, Reply
from bot.core.events import CommandEvent
from bot.core.model import ThreadRef, User
from bot.core.schedule import Schedule, cron_refusal, fired, list_text, may_remove, next_fire, utc_text
from bot.state.schedules import ScheduleStore

log = logging.getLogger(__name__)

MAX_PER_CHANNEL = 25
RETRY_SECONDS = 60.0  # a run whose thread could not be opened is tried again this much later

# (platform, channel, owner, draft) -> the replies of a /draft typed in the channel
StartDraft = Callable[[str, str, User, Draft], Awaitable[list[str]]]
ScheduleCommand = ScheduleAdd | ScheduleList | ScheduleRemove


def new_schedule_id() -> str:
    return secrets.token_hex(3)


class ScheduleDesk:
    def __init__(self, store: ScheduleStore, platforms: Collection[str], start: StartDraft) -> None:
        self.store = store
        self.platforms = platforms
        self.start = start

    async def handle(
        self, platform: str, channel_id: str, user: User, command: ScheduleCommand, now: float
    ) -> str:
        if isinstance(command, ScheduleAdd):
            return await self.add(platform, channel_id, user, command, now)
        if isinstance(command, ScheduleList):
            return list_text(await self.store.in_channel(platform, channel_id))
        return await self.remove(platform, channel_id, user, command.schedule_id)

    async def add(self, platform: str, channel_id: str, user: User, command: ScheduleAdd, now: float) -> str:
        refused = cron_refusal(command.cron, now)
        if refused is not None:
            return refused
        refused = _draft_refusal(platform, channel_id, user, command.draft, now)
        if refused is not None:
            return refused
        if len(await self.store.in_channel(platform, channel_id)) >= MAX_PER_CHANNEL:
            return (
                f"This channel has {MAX_PER_CHANNEL} schedules, the most it can have: "
                "remove one first (/schedule list shows them)."
            )
        schedule_id = new_schedule_id()
        while await self.store.exists(schedule_id):
            schedule_id = new_schedule_id()
        schedule = Schedule(
            id=schedule_id,
            platform=platform,
            channel_id=channel_id,
            owner=user,
            cron=command.cron,
            draft=command.draft,
            next_at=next_fire(command.cron, now),
            created_at=now,
        )
        await self.store.add(schedule)
        return (
            f"Schedule {schedule.id} added: `{schedule.cron}` (UTC), next run {utc_text(schedule.next_at)}. "
            "Each run opens a campaign thread here with that /draft; the vote closes at its deadline and "
            f"the winners are refined. Remove it with /schedule remove {schedule.id}."
        )

    async def remove(self, platform: str, channel_id: str, user: User, schedule_id: str) -> str:
        schedule = await self.store.get(schedule_id)
        if schedule is None or (schedule.platform, schedule.channel_id) != (platform, channel_id):
            return f"There is no schedule {schedule_id} in this channel: /schedule list shows the ids."
        if not may_remove(schedule, user):
            who = schedule.owner.name or schedule.owner.id
            return f"Only {who}, who added schedule {schedule_id}, or an approver can remove it."
        if not await self.store.remove(schedule):
            return f"Schedule {schedule_id} was already removed."
        return f"Schedule {schedule_id} removed: it will not run again."

    async def fire_due(self, now: float) -> int:
        """Open a campaign thread for every due schedule, each on exactly one replica."""
        opened = 0
        for schedule_id, due_at in await self.store.due(now):
            schedule = await self.store.get(schedule_id)
            if schedule is None:
                await self.store.forget(schedule_id)
                continue
            if schedule.platform not in self.platforms:
                continue  # a replica that serves that platform fires it
            following = fired(schedule, now)
            if not await self.store.claim(schedule_id, due_at, following.next_at):
                continue
            await self.store.save(following)
            try:
                replies = await self.start(
                    schedule.platform, schedule.channel_id, schedule.owner, schedule.draft
                )
            except Exception:
                log.exception("schedule %s could not open its campaign thread", schedule_id)
                retry = min(now + RETRY_SECONDS, following.next_at)
                if await self.store.claim(schedule_id, following.next_at, retry):
                    await self.store.save(following.model_copy(update={"next_at": retry}))
                continue
            if replies:
                log.warning("schedule %s did not start a campaign: %s", schedule_id, " ".join(replies))
                continue
            opened += 1
        return opened


def _draft_refusal(platform: str, channel_id: str, user: User, draft: Draft, now: float) -> str | None:
    """What a /draft typed now would be answered with, when it would start nothing."""
    probe = ThreadRef(platform=platform, channel_id=channel_id, thread_id="")
    campaign = machine.new_campaign("schedule-probe", probe, user, now)
    _, effects = machine.apply(campaign, CommandEvent(user=user, command=draft, thread=probe), now)
    if any(isinstance(e, Enqueue) for e in effects):
        return None
    texts = [e.text for e in effects if isinstance(e, Reply)]
    return " ".join(texts) or "That /draft would not start anything."
