"""Commands typed in a channel (or a thread that holds no campaign).

/help, and /status and /cost without ``--campaign``, answer for the whole channel. A command about one
campaign acts on the campaign ``--campaign`` names (its short id or words of its title), or on the
channel's only live campaign; otherwise it answers which campaigns it could mean. Every answer goes to
the person who typed it, where they typed it.
"""

from __future__ import annotations

from bot.core import ledger, phrasing, render
from bot.core.commands import Command, Cost, Deliver, Help, Status
from bot.core.events import CommandEvent
from bot.core.grammar import format_command, help_text
from bot.core.model import TERMINAL_STAGES, Campaign, User
from bot.core.phrasing import Phrasing
from bot.state.campaigns import NEWEST_IN_CHANNEL
from bot.usecases.context import UseCaseContext
from bot.usecases.cycle import apply_event
from bot.usecases.deliver import deliver

MAX_LISTED = 15
_START = "Start one with `/draft <prompt>` in the channel: it opens a campaign thread."


def title(campaign: Campaign, limit: int = 60) -> str:
    prompt = " ".join(campaign.settings.prompt.split()) or "(no prompt yet)"
    return prompt if len(prompt) <= limit else prompt[: limit - 1] + "…"


def named(campaign: Campaign) -> str:
    """How a listing names a campaign: its short id and title."""
    return f"{phrasing.short_id(campaign.id)} “{title(campaign)}”"


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


def status_text(campaigns: list[Campaign], phrase: Phrasing, total: int | None = None) -> str:
    """The channel's campaigns, newest first: short id, title, stage, round and the work in progress.

    ``total``: how many the channel holds, when ``campaigns`` are only its newest.
    """
    if not campaigns:
        return f"There are no campaigns in this channel. {_START}"
    count = max(total or 0, len(campaigns))
    lines = [f"{_plural(count, 'campaign')} in this channel, newest first:"]
    for c in campaigns[:MAX_LISTED]:
        lines.append(f"• {named(c)}: {_state(c)}")
    if count > MAX_LISTED:
        lines.append(f"… and {count - MAX_LISTED} older.")
    if phrase.takes_campaign_flag:
        lines.append("`/status --campaign <id>` shows one campaign's details.")
    else:
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
            f"• {named(c)}: {ledger.format_seconds(s.total_seconds)} on {_plural(s.total_images, 'image')}"
        )
    if len(spent) > MAX_LISTED:
        lines.append(f"… and {len(spent) - MAX_LISTED} more.")
    saved = sum(s.saved_seconds for _, s in spent if s.draft_images)
    if saved > 0:
        lines.append(
            f"Drafting first saved {ledger.format_seconds(saved)} against full quality from the start."
        )
    return "\n".join(lines)


def no_live_text(command: Command) -> str:
    return f"/{command.name} works on a campaign, and this channel has no live one. {_START}"


def which_text(command: Command, candidates: list[Campaign], why: str, phrase: Phrasing) -> str:
    """``why`` the command could mean any of ``candidates``, listed, and how to name one."""
    how = "Name one with --campaign <id>" if phrase.takes_campaign_flag else "Type it in one's thread"
    lines = [f"{why} {how}:"]
    lines.extend(f"• {named(c)}: {c.stage.value.capitalize()}" for c in candidates[:MAX_LISTED])
    if len(candidates) > MAX_LISTED:
        lines.append(f"… and {len(candidates) - MAX_LISTED} more.")
    if phrase.takes_campaign_flag:
        example = command.model_copy(update={"campaign": phrasing.short_id(candidates[0].id)})
        lines.append(f"Example: `{format_command(example)}`")
    return "\n".join(lines)


def no_match_text(command: Command, ref: str) -> str:
    shown = ref if len(ref) <= 40 else ref[:40] + "…"
    return (
        f"No campaign in this channel matches {shown!r}: /status lists them with their ids. "
        f"Usage: `/{command.name} ... --campaign <id or title words>`"
    )


def other_campaign_text(campaign: Campaign, ref: str) -> str:
    shown = ref if len(ref) <= 40 else ref[:40] + "…"
    return (
        f"This thread holds {named(campaign)}, and --campaign {shown!r} names another: "
        "leave --campaign out here, or type the command in the channel."
    )


def matching(campaigns: list[Campaign], ref: str) -> list[Campaign]:
    """The campaigns ``ref`` names: by the start of the id, else by every word of it in the title."""
    wanted = ref.strip().lower()
    by_id = [c for c in campaigns if len(wanted) >= 4 and c.id.lower().startswith(wanted)]
    if by_id:
        return by_id
    words = wanted.split()
    by_title = [c for c in campaigns if words and all(w in c.settings.prompt.lower() for w in words)]
    live = [c for c in by_title if c.stage not in TERMINAL_STAGES]
    return live or by_title


async def run(
    ctx: UseCaseContext, platform: str, channel_id: str, user: User, command: Command, phrase: Phrasing
) -> list[str]:
    """A command typed in a channel; the replies for the person who typed it."""
    if isinstance(command, Help):
        return [phrase.text(help_text(command.topic))]
    ref = getattr(command, "campaign", None)
    if ref is None and isinstance(command, Status):  # the newest only: the cost does not grow with history
        newest = await ctx.campaigns.in_channel(platform, channel_id, NEWEST_IN_CHANNEL)
        total = await ctx.campaigns.count_in_channel(platform, channel_id)
        return [phrase.text(status_text(newest, phrase, total))]
    if ref is None and not isinstance(command, Cost):  # "the channel's only live campaign"
        campaigns = await ctx.campaigns.live_in_channel(platform, channel_id)
    else:
        campaigns = await ctx.campaigns.in_channel(platform, channel_id)
    if ref is None and isinstance(command, Cost):
        return [phrase.text(cost_text(campaigns))]
    if ref is not None:
        found = matching(campaigns, ref)
        if not found:
            return [phrase.text(no_match_text(command, ref))]
        if len(found) > 1:
            why = f"{_plural(len(found), 'campaign')} in this channel match {ref!r}."
            return [phrase.text(which_text(command, found, why, phrase))]
    else:
        found = [c for c in campaigns if c.stage not in TERMINAL_STAGES]
        if not found:
            return [phrase.text(no_live_text(command))]
        if len(found) > 1:
            why = f"/{command.name} could mean any of this channel's {len(found)} live campaigns."
            return [phrase.text(which_text(command, found, why, phrase))]
    (target,) = found
    event = CommandEvent(user=user, command=command, place="channel")
    if isinstance(command, Deliver):
        replies = await deliver(ctx, target, user, command)
    else:
        replies = await apply_event(ctx, target.id, event, user=user)
    said = f"On {named(target)}:"
    if not replies:
        return [f"{said} done; its thread shows the rest."]
    return [f"{said} {replies[0]}", *replies[1:]]
