"""How a vote reads: the deadline as a time and a countdown, voters against the quorum, the leader and
ties, and how a round closed and what happened to its votes."""

from __future__ import annotations

from datetime import UTC, datetime

from bot.core.events import Tally
from bot.core.model import Round
from bot.core.voting import leaders, vote_counts, voter_count


def numbers_text(numbers: list[int]) -> str:
    """``#3``, ``#3 and #5``, ``#3, #5 and #8``."""
    named = [f"#{n}" for n in numbers]
    return named[0] if len(named) == 1 else ", ".join(named[:-1]) + " and " + named[-1]


def votes_word(count: int) -> str:
    return f"{count} vote{'s' if count != 1 else ''}"


def clock_time(at: float) -> str:
    return datetime.fromtimestamp(at, UTC).strftime("%H:%M UTC")


def _span(seconds: float) -> str:
    minutes = int((seconds + 59) // 60)
    if minutes < 60:
        return f"{minutes} min"
    hours, rest = divmod(minutes, 60)
    return f"{hours} h {rest} min" if rest else f"{hours} h"


def countdown(deadline: float | None, now: float) -> str:
    """``closes 14:30 UTC, in 25 min``."""
    if deadline is None:
        return "no deadline"
    left = deadline - now
    if left <= 0:
        return f"closing now (deadline {clock_time(deadline)})"
    if left < 60:
        return f"closes {clock_time(deadline)}, in under a minute"
    return f"closes {clock_time(deadline)}, in {_span(left)}"


def voters_text(rnd: Round) -> str:
    voters = voter_count(rnd.tally)
    if rnd.quorum:
        return f"{voters} of {rnd.quorum} voted"
    if voters == 0:
        return "no votes yet"
    return f"{voters} {'person' if voters == 1 else 'people'} voted"


def leader_text(tally: Tally) -> str:
    """``#3 leads with 2 votes`` or ``#3 and #5 tie at 2 votes (the earliest vote breaks it: #3)``."""
    top = leaders(tally)
    if not top:
        return "no leader yet"
    count = vote_counts(tally)[top[0]]
    if len(top) == 1:
        return f"#{top[0]} leads with {votes_word(count)}"
    return f"{numbers_text(top)} tie at {votes_word(count)} (the earliest vote breaks it: #{top[0]})"


def vote_line(rnd: Round, now: float | None) -> str:
    """One open round's vote: ``round 1: 2 of 3 voted · #3 leads with 2 votes · closes 14:30 UTC, in 25
    min``."""
    parts = [f"round {rnd.number}: {voters_text(rnd)}"]
    if rnd.tally:
        parts.append(leader_text(rnd.tally))
    if now is not None:
        parts.append(countdown(rnd.deadline, now))
    return " · ".join(parts)


def tie_note(tally: Tally, picked: list[int]) -> str:
    """A sentence naming a tie the close had to settle, or ``""``."""
    counts = vote_counts(tally)
    if not picked:
        return ""
    last = counts.get(picked[-1], 0)
    tied = [n for n in leaders_at(tally, last) if n not in picked]
    if not tied:
        return ""
    kept = [n for n in picked if counts.get(n) == last]
    return (
        f" {numbers_text(kept + tied)} tied at {votes_word(last)}: {numbers_text(kept)} got "
        f"{'its' if len(kept) == 1 else 'their'} first vote earlier, so "
        f"{'it goes' if len(kept) == 1 else 'they go'} on."
    )


def leaders_at(tally: Tally, count: int) -> list[int]:
    counts = vote_counts(tally)
    return [n for n, c in counts.items() if c == count]


def votes_summary(rnd: Round) -> str:
    """What a round's votes amounted to: ``3 votes from 2 people`` or ``no votes``."""
    total = sum(vote_counts(rnd.tally).values())
    voters = voter_count(rnd.tally)
    if total == 0:
        return "no votes"
    return f"{votes_word(total)} from {voters} {'person' if voters == 1 else 'people'}"


_HOW = {
    "deadline": "closed at its deadline",
    "quorum": "reached its quorum",
    "select": "was closed by a pick",
    "superseded": "was replaced by a newer round",
    "cancel": "was closed by /cancel",
    "scores": "closed with no votes; the top-scored drafts went on",
}


def round_state(rnd: Round, now: float | None = None) -> str:
    """A grid's caption line about its round: open with its countdown, or how it closed."""
    if rnd.open:
        return "Open for voting: " + vote_line(rnd, now).split(": ", 1)[1]
    if rnd.closed_by is None:
        return f"Round {rnd.number} is still being drafted."
    how = _HOW.get(rnd.closed_by, f"closed ({rnd.closed_by})")
    won = f": {numbers_text(rnd.winners)} went on" if rnd.winners else ""
    return f"Closed: round {rnd.number} {how}{won}. Votes are no longer counted."
