"""Schedule maths: when a cron line fires next (UTC), and the schedule model. Pure: ``now`` is passed in."""

from __future__ import annotations

import time
from datetime import UTC, datetime

from croniter import croniter
from pydantic import BaseModel, ConfigDict

from bot.core.commands import Draft
from bot.core.model import User

MIN_GAP_SECONDS = 15 * 60  # the shortest time allowed between two runs of one schedule
_GAPS_CHECKED = 48


class Schedule(BaseModel):
    """A /draft that a channel runs on a cron schedule, as if its owner typed it."""

    model_config = ConfigDict(frozen=True)
    id: str
    platform: str
    channel_id: str
    owner: User
    cron: str
    draft: Draft
    next_at: float
    created_at: float


class NeverFires(ValueError):
    pass


def next_fire(cron: str, now: float) -> float:
    """The first time strictly after ``now`` that the cron line matches, read in UTC."""
    try:
        return float(croniter(cron, datetime.fromtimestamp(now, UTC)).get_next(float))
    except (ValueError, KeyError) as exc:  # CroniterBadDateError is a ValueError
        raise NeverFires(cron) from exc


def fired(schedule: Schedule, now: float) -> Schedule:
    """The schedule after firing at ``now``: the next run is the first slot after now, so slots missed
    while nobody was running collapse into the one fire."""
    return schedule.model_copy(update={"next_at": next_fire(schedule.cron, now)})


def cron_refusal(cron: str, now: float) -> str | None:
    """Why the cron line can't be a schedule, or None."""
    try:
        at = next_fire(cron, now)
    except NeverFires:
        return f'The cron line "{cron}" never matches a date. Example: "0 9 * * 1" (Mondays at 09:00 UTC).'
    gap = float("inf")
    for _ in range(_GAPS_CHECKED):
        try:
            later = next_fire(cron, at)
        except NeverFires:
            break
        gap, at = min(gap, later - at), later
    if gap < MIN_GAP_SECONDS:
        return (
            f'"{cron}" would run every {int(gap // 60) or 1} min; a schedule may run at most every '
            f'{MIN_GAP_SECONDS // 60} min. Example: "0 9 * * 1-5" (weekdays at 09:00 UTC).'
        )
    return None


def utc_text(at: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(at))


def prompt_text(schedule: Schedule, limit: int = 80) -> str:
    prompt = " ".join(schedule.draft.prompt.split())
    return prompt if len(prompt) <= limit else prompt[: limit - 1] + "…"


def describe(schedule: Schedule) -> str:
    who = schedule.owner.name or schedule.owner.id
    return (
        f"• {schedule.id}: `{schedule.cron}` · next run {utc_text(schedule.next_at)} · "
        f"“{prompt_text(schedule)}” · added by {who}"
    )


def list_text(schedules: list[Schedule]) -> str:
    if not schedules:
        return 'This channel has no schedules. Add one with `/schedule add "0 9 * * 1" <prompt>`.'
    lines = [f"Schedules in this channel ({len(schedules)}), cron times in UTC:"]
    lines += [describe(s) for s in sorted(schedules, key=lambda s: (s.next_at, s.id))]
    lines.append("Remove one with /schedule remove <id>.")
    return "\n".join(lines)


def may_remove(schedule: Schedule, user: User) -> bool:
    return user.id == schedule.owner.id or user.is_approver
