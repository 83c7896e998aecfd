"""The campaign state machine: ``apply(campaign, event, now) -> (new campaign, effects)``.

Pure: the input campaign is never changed, and the version is left to the store. Every command gets an
answer: either it moves the campaign on, or a Reply says what the campaign is waiting for.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from bot.core import phrasing, render
from bot.core.commands import (
    Cancel,
    Command,
    Cost,
    Deliver,
    Draft,
    Faces,
    Help,
    Inpaint,
    Outpaint,
    Refine,
    Reroll,
    ScheduleAdd,
    ScheduleList,
    ScheduleRemove,
    Select,
    SettingsCmd,
    Status,
    Upscale,
    Vary,
)
from bot.core.effects import Effect, Reply
from bot.core.events import CloseRound, CommandEvent, Event, Packed, ResultEvent, Tallied
from bot.core.model import TERMINAL_STAGES, Campaign, Stage, ThreadRef, User
from bot.core.transitions import admin, deliver, finals, rounds
from bot.core.transitions.base import Refused
from bot.core.transitions.results import apply_result

Handler = Callable[[Campaign, Any, User, float], list[Effect]]

_ALL = frozenset(Stage)
_LIVE = _ALL - TERMINAL_STAGES
_RESTING = frozenset({Stage.VOTING, Stage.PICKING, Stage.EDITING, Stage.DONE})
_PICKING = frozenset({Stage.VOTING, Stage.PICKING})

# command type -> (stages where it runs, handler)
HANDLERS: dict[type, tuple[frozenset[Stage], Handler]] = {
    Draft: (_RESTING, rounds.draft),
    Vary: (_RESTING, rounds.vary),
    Reroll: (_PICKING, rounds.reroll),
    Select: (_PICKING, rounds.select),
    Refine: (_RESTING, finals.refine),
    Inpaint: (_RESTING, finals.inpaint),
    Outpaint: (_RESTING, finals.outpaint),
    Upscale: (_RESTING, finals.upscale),
    Faces: (_RESTING, finals.faces),
    Status: (_ALL, admin.status),
    Cost: (_ALL, admin.cost),
    Deliver: (_ALL, deliver.deliver),
    Cancel: (_LIVE, admin.cancel),
    SettingsCmd: (_LIVE, admin.settings),
    Help: (_ALL, admin.show_help),
}

# commands that only answer: the campaign is returned as it came
READ_ONLY: frozenset[type] = frozenset({Status, Cost, Help, Deliver})
# commands that work before the first /draft
BEFORE_FIRST_DRAFT: frozenset[type] = frozenset({Draft, Status, Cost, Cancel, SettingsCmd, Help})
SCHEDULE_COMMANDS: frozenset[type] = frozenset({ScheduleAdd, ScheduleList, ScheduleRemove})

SCHEDULE_TEXT = (
    "Schedules belong to a channel, not to one campaign: use /schedule add, list or remove in the "
    "channel itself."
)

# a word on why the command doesn't fit, put before what the campaign is waiting for
_HINTS: dict[tuple[Stage, str], str] = {
    (Stage.EDITING, "reroll"): "/reroll redraws a voting round; /draft starts a new one.",
    (Stage.DONE, "reroll"): "/reroll redraws a voting round; /draft starts a new one.",
    (Stage.EDITING, "select"): "/select picks winners while a round is voting.",
    (Stage.DONE, "select"): "/select picks winners while a round is voting.",
}


def new_campaign(campaign_id: str, thread: ThreadRef, owner: User, now: float) -> Campaign:
    """A campaign waiting for its first /draft."""
    return Campaign(id=campaign_id, thread=thread, owner=owner.id, created_at=now, updated_at=now)


def apply(campaign: Campaign, event: Event, now: float) -> tuple[Campaign, list[Effect]]:
    """The campaign after ``event`` and what to do about it, every text phrased for its platform."""
    new, effects = _apply(campaign, event, now)
    platform = campaign.thread.platform
    thread = phrasing.for_thread(platform)
    replies = thread
    if isinstance(event, CommandEvent) and event.typed_in == "channel":
        ref = None if event.thread is not None else phrasing.short_id(campaign.id)
        replies = phrasing.for_channel(platform, ref)
    return new, phrasing.phrased(effects, thread, replies)


def _apply(campaign: Campaign, event: Event, now: float) -> tuple[Campaign, list[Effect]]:
    if isinstance(event, CommandEvent):
        return _apply_command(campaign, event.command, event.user, now)
    work = campaign.model_copy(deep=True)
    if isinstance(event, ResultEvent):
        effects = apply_result(work, event.result, now)
    elif isinstance(event, CloseRound):
        effects = rounds.close_round(work, event, now)
    elif isinstance(event, Tallied):
        effects = rounds.record_tally(work, event, now)
    elif isinstance(event, Packed):
        effects = deliver.packed(work, event, now)
    else:
        effects = None
    if effects is None:
        return campaign, []
    work.updated_at = now
    return work, effects


def refusal(campaign: Campaign, command: Command, now: float) -> str | None:
    """Why the command doesn't fit the campaign's stage, or None when it does."""
    kind = type(command)
    if kind in SCHEDULE_COMMANDS:
        return SCHEDULE_TEXT
    stages, _ = HANDLERS[kind]
    if campaign.stage in TERMINAL_STAGES:
        return None if kind in READ_ONLY else render.waiting_text(campaign, now)
    if not campaign.rounds:
        return None if kind in BEFORE_FIRST_DRAFT else render.NOT_STARTED_TEXT
    if campaign.stage in stages:
        return None
    waiting = render.waiting_text(campaign, now)
    hint = _HINTS.get((campaign.stage, command.name))
    return f"{hint} {waiting}" if hint else waiting


def _apply_command(
    campaign: Campaign, command: Command, user: User, now: float
) -> tuple[Campaign, list[Effect]]:
    refused = refusal(campaign, command, now)
    if refused is not None:
        return campaign, [Reply(text=refused, error=True)]
    _, handler = HANDLERS[type(command)]
    work = campaign.model_copy(deep=True)
    try:
        effects = handler(work, command, user, now)
    except Refused as exc:
        return campaign, [Reply(text=exc.text, error=True)]
    if type(command) in READ_ONLY:
        return campaign, effects
    work.updated_at = now
    return work, effects
