"""Answers to commands typed in a channel (or a thread that holds no campaign)."""

from __future__ import annotations

from bot.core import ledger, render
from bot.core.commands import Command, Cost, Help, Status
from bot.core.grammar import help_text
from bot.core.model import Campaign

MAX_LISTED = 15
_START = "Start one with `/draft <prompt>` in the channel: it opens a campaign thread."


def title(campaign: Campaign, limit: int = 60) -> str:
    prompt = " ".join(campaign.settings.prompt.split()) or "(no prompt yet)"
    return prompt if len(prompt) <= limit else prompt[: limit - 1] + "…"


def _plural(count: int, word: str) -> str:
    return f"{count} {word}{'s' if count != 1 else ''}"


def _state(c: Campaign) -> str:
    """Stage, round and the work in progress."""
    parts = [c.stage.value.capitalize()]
    if c.current_round is not None:
        parts.append(f"round {c.current_round.number}")
    work = "; ".join(render.job_label(job).lower() for job in c.pending.values())
    if work:
        parts.append(f"running: {work}")
    if c.deliverables:
        parts.append("delivered " + ", ".join(f"#{n}" for n in c.deliverables))
    if c.failure:
        parts.append(c.failure)
    return " · ".join(parts)


def status_text(campaigns: list[Campaign]) -> str:
    """The channel's campaigns, newest first: title, stage, round and the work in progress."""
    if not campaigns:
        return f"There are no campaigns in this channel. {_START}"
    lines = [f"{_plural(len(campaigns), 'campaign')} in this channel, newest first:"]
    for c in campaigns[:MAX_LISTED]:
        lines.append(f"• “{title(c)}”: {_state(c)}")
    if len(campaigns) > MAX_LISTED:
        lines.append(f"… and {len(campaigns) - MAX_LISTED} older.")
    lines.append("Type /status in a campaign's thread for its details.")
    return "\n".join(lines)


def cost_text(campaigns: list[Campaign]) -> str:
    """The channel's ledgers summed, with each campaign's share."""
    spent = [(c, ledger.summarize(c)) for c in campaigns if c.ledger]
    if not spent:
        return "Nothing spent yet: no images have been made in this channel's campaigns."
    seconds = sum(s.total_seconds for _, s in spent)
    images = sum(s.total_images for _, s in spent)
    lines = [
        f"This channel's {_plural(len(spent), 'campaign')} spent {ledger.format_seconds(seconds)} "
        f"of device time on {_plural(images, 'image')}."
    ]
    spent.sort(key=lambda pair: pair[1].total_seconds, reverse=True)
    for c, s in spent[:MAX_LISTED]:
        lines.append(
            f"• “{title(c)}”: {ledger.format_seconds(s.total_seconds)} on {_plural(s.total_images, 'image')}"
        )
    if len(spent) > MAX_LISTED:
        lines.append(f"… and {len(spent) - MAX_LISTED} more.")
    saved = sum(s.saved_seconds for _, s in spent if s.draft_images)
    if saved > 0:
        lines.append(
            f"Drafting first saved {ledger.format_seconds(saved)} against full quality from the start."
        )
    return "\n".join(lines)


def needs_thread_text(command: Command) -> str:
    return f"/{command.name} works inside a campaign thread: type it there. {_START}"


def answer(command: Command, campaigns: list[Campaign] | None) -> str:
    """``campaigns`` are the channel's, for /status and /cost."""
    if isinstance(command, Help):
        return help_text(command.topic)
    if isinstance(command, Status):
        return status_text(campaigns or [])
    if isinstance(command, Cost):
        return cost_text(campaigns or [])
    return needs_thread_text(command)


NEEDS_CAMPAIGNS: tuple[type, ...] = (Status, Cost)
