"""Commands about the campaign itself: status, cost, cancel, settings; and help."""

from __future__ import annotations

from bot.core import ledger, render
from bot.core.commands import Cancel, Cost, Help, SettingsCmd, Status
from bot.core.effects import CancelJobs, Effect, Post, Reply, UpdateStatus
from bot.core.grammar import help_text
from bot.core.model import Campaign, Stage, User
from bot.core.transitions.base import Refused, close_open_round, require_authority


def status(c: Campaign, cmd: Status, user: User, now: float) -> list[Effect]:
    return [Reply(text=render.status_text(c, now))]


def cost(c: Campaign, cmd: Cost, user: User, now: float) -> list[Effect]:
    return [Reply(text=ledger.cost_text(c))]


def show_help(c: Campaign, cmd: Help, user: User, now: float) -> list[Effect]:
    return [Reply(text=help_text(cmd.topic))]


def cancel(c: Campaign, cmd: Cancel, user: User, now: float) -> list[Effect]:
    require_authority(c, user, "/cancel the campaign")
    effects: list[Effect] = []
    running = tuple(c.pending)
    if running:
        effects.append(CancelJobs(job_ids=running))
    effects += close_open_round(c, "cancel", [])
    c.pending = {}
    c.stage = Stage.CANCELLED
    c.finished_at = now
    stopped = f" Stopped {len(running)} running job{'s' if len(running) != 1 else ''}." if running else ""
    body = (
        f"Campaign cancelled by {user.name or user.id}.{stopped} Start a new one with /draft in the channel."
    )
    return [*effects, Post(message=render.text(c, body)), UpdateStatus(text=render.status_line(c))]


def settings(c: Campaign, cmd: SettingsCmd, user: User, now: float) -> list[Effect]:
    require_authority(c, user, "change the /settings")
    for name, value in (("n", cmd.n), ("top", cmd.top), ("quorum", cmd.quorum)):
        if value is not None and value < 1:
            raise Refused(f"{name} must be at least 1. Example: `/settings {name} 3`")
    if cmd.budget_seconds is not None and cmd.budget_seconds <= 0:
        raise Refused("The budget must be more than zero. Example: `/settings budget 10m`")
    s = c.settings
    if cmd.clear_budget:
        s.budget_seconds = None
    elif cmd.budget_seconds is not None:
        s.budget_seconds = cmd.budget_seconds
    if cmd.quorum is not None:
        s.quorum = cmd.quorum
    if cmd.vote_seconds is not None:
        s.vote_seconds = cmd.vote_seconds
    if cmd.top is not None:
        s.top_k = cmd.top
    if cmd.n is not None:
        s.n = cmd.n
    if cmd.aspect is not None:
        s.aspect = cmd.aspect
    if cmd.preset is not None:
        s.preset = cmd.preset
    if cmd.no_votes is not None:
        s.advance_on_silence = cmd.no_votes == "scores"
    if cmd.model is not None:
        s.model = cmd.model
    note = ""
    for rnd in c.rounds:
        if rnd.open:
            # quorum and top-k also apply to the vote in progress; its deadline stays
            rnd.quorum = s.quorum
            rnd.top_k = s.top_k
            note = f" Round {rnd.number}'s vote now uses quorum and top; its deadline stays."
    return [Reply(text=render.settings_text(s) + note)]
