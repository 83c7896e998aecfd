"""Voting rules: who may vote on what, who wins, when a quorum is reached."""

from __future__ import annotations

from bot.core.events import Tally
from bot.core.messages import GRID_SIZE, NUMBER_EMOJI
from bot.core.model import Campaign, Round, Stage, User

_VARIATION_SELECTOR = "\ufe0f"


def check_vote(campaign: Campaign, round_no: int, number: int, user: User) -> str | None:
    """The reason a vote is refused, or None when it counts."""
    if user.is_bot:
        return "bots don't vote"
    rnd = find_round(campaign, round_no)
    if rnd is None:
        return f"There is no round {round_no} in this campaign."
    if not rnd.open or campaign.stage is not Stage.VOTING:
        if rnd.closed_by is None:
            return f"Voting hasn't opened yet: round {round_no} is still being drafted."
        if rnd.winners:
            picked = ", ".join(f"#{n}" for n in rnd.winners)
            return f"Round {round_no} is closed: the team picked {picked}."
        return f"Round {round_no} is closed with no winners."
    if number not in rnd.candidates:
        return f"#{number} isn't in round {round_no} ({holds_text(rnd)})"
    return None


def holds_text(rnd: Round) -> str:
    if not rnd.candidates:
        return "it holds no images"
    low, high = min(rnd.candidates), max(rnd.candidates)
    return f"it holds #{low}" if low == high else f"it holds #{low}–#{high}"


def find_round(campaign: Campaign, round_no: int) -> Round | None:
    for rnd in campaign.rounds:
        if rnd.number == round_no:
            return rnd
    return None


def _distinct(voters: list[tuple[str, float]]) -> dict[str, float]:
    """One vote per user per candidate: a user's earliest time stands."""
    first: dict[str, float] = {}
    for user_id, at in voters:
        if user_id not in first or at < first[user_id]:
            first[user_id] = at
    return first


def winners(tally: Tally, top_k: int) -> list[int]:
    """Most votes first; ties go to the candidate voted for earliest, then to the lower number."""
    ranked: list[tuple[int, float, int]] = []
    for number, voters in tally.items():
        by_user = _distinct(voters)
        if by_user:
            ranked.append((-len(by_user), min(by_user.values()), number))
    ranked.sort()
    return [number for _, _, number in ranked[: max(top_k, 0)]]


def vote_counts(tally: Tally) -> dict[int, int]:
    return {number: len(_distinct(voters)) for number, voters in tally.items() if voters}


def quorum_reached(tally: Tally, quorum: int | None) -> bool:
    """True when at least ``quorum`` different people voted in the round (on any candidates)."""
    if quorum is None:
        return False
    voters = {user_id for entries in tally.values() for user_id, _ in entries}
    return len(voters) >= quorum


def voter_count(tally: Tally) -> int:
    """How many different people voted in the round (on any candidates)."""
    return len({user_id for entries in tally.values() for user_id, _ in entries})


def leaders(tally: Tally) -> list[int]:
    """The candidates with the most votes (more than one: a tie), the earliest-voted first."""
    counts = vote_counts(tally)
    if not counts:
        return []
    most = max(counts.values())
    return [n for n in winners(tally, len(counts)) if counts.get(n) == most]


def vote_for_emoji(emoji: str, rnd: Round, grid_index: int = 0) -> int | None:
    """The candidate a number reaction under grid ``grid_index`` of the round votes for."""
    wanted = emoji.replace(_VARIATION_SELECTOR, "")
    for position, candidate_emoji in enumerate(NUMBER_EMOJI):
        if candidate_emoji.replace(_VARIATION_SELECTOR, "") == wanted:
            index = grid_index * GRID_SIZE + position
            return rnd.candidates[index] if 0 <= index < len(rnd.candidates) else None
    return None


def grids(rnd: Round) -> list[list[int]]:
    """The round's candidates in grids of at most ``GRID_SIZE``."""
    return [rnd.candidates[i : i + GRID_SIZE] for i in range(0, len(rnd.candidates), GRID_SIZE)]


def open_rounds(campaign: Campaign) -> list[Round]:
    return [rnd for rnd in campaign.rounds if rnd.open]


def round_of(campaign: Campaign, number: int) -> Round | None:
    """The round whose grid holds candidate ``number`` (refined and edited images belong to none)."""
    for rnd in campaign.rounds:
        if number in rnd.candidates:
            return rnd
    return None


def grid_round(campaign: Campaign) -> Round | None:
    """The latest round that has images: the one votes, /select and /reroll are about."""
    for rnd in reversed(campaign.rounds):
        if rnd.candidates:
            return rnd
    return None
