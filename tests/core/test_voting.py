"""Voting rules: who may vote, who wins, when a quorum is reached."""

from __future__ import annotations

import pytest

from bot.core.events import Tally
from bot.core.messages import NUMBER_EMOJI
from bot.core.model import Campaign, Round, Stage, ThreadRef, User
from bot.core.voting import check_vote, quorum_reached, vote_for_emoji, winners

THREAD = ThreadRef(platform="web", channel_id="ch", thread_id="th")
ANA = User(id="ana")


def campaign(stage: Stage, *rounds: Round) -> Campaign:
    return Campaign(
        id="c1", thread=THREAD, owner="ana", created_at=0, updated_at=0, stage=stage, rounds=list(rounds)
    )


ROUND1_CLOSED = Round(number=1, kind="draft", candidates=[1, 2, 3, 4], winners=[3], closed_by="select")
ROUND2_OPEN = Round(number=2, kind="draft", candidates=[9, 10, 11, 12, 13, 14, 15, 16], open=True)


def test_a_member_votes_on_an_open_round() -> None:
    assert check_vote(campaign(Stage.VOTING, ROUND1_CLOSED, ROUND2_OPEN), 2, 10, ANA) is None


def test_bots_never_vote() -> None:
    bot = User(id="draftloop", is_bot=True)
    assert check_vote(campaign(Stage.VOTING, ROUND2_OPEN), 2, 10, bot) == "bots don't vote"


def test_a_closed_round_names_its_winners() -> None:
    text = check_vote(campaign(Stage.VOTING, ROUND1_CLOSED, ROUND2_OPEN), 1, 2, ANA)
    assert text == "Round 1 is closed: the team picked #3."


def test_a_round_still_drafting_has_not_opened() -> None:
    drafting = Round(number=1, kind="draft", expected=4)
    text = check_vote(campaign(Stage.DRAFTING, drafting), 1, 1, ANA)
    assert text is not None and text.startswith("Voting hasn't opened yet")


def test_a_round_closed_without_winners_says_so() -> None:
    closed = Round(number=1, kind="draft", candidates=[1, 2], closed_by="deadline")
    assert check_vote(campaign(Stage.VOTING, closed), 1, 1, ANA) == "Round 1 is closed with no winners."


def test_an_unknown_round_is_refused() -> None:
    assert (
        check_vote(campaign(Stage.VOTING, ROUND2_OPEN), 7, 1, ANA) == "There is no round 7 in this campaign."
    )


def test_a_number_outside_the_grid_says_what_the_grid_holds() -> None:
    text = check_vote(campaign(Stage.VOTING, ROUND1_CLOSED, ROUND2_OPEN), 2, 3, ANA)
    assert text == "#3 isn't in round 2 (it holds #9–#16)"


def test_an_open_round_of_a_campaign_that_moved_on_takes_no_votes() -> None:
    text = check_vote(campaign(Stage.REFINING, ROUND2_OPEN), 2, 10, ANA)
    assert text is not None


WINNER_CASES: list[tuple[str, Tally, int, list[int]]] = [
    ("most votes first", {1: [("a", 5.0)], 2: [("b", 9.0), ("c", 9.5)]}, 1, [2]),
    ("tie goes to the earliest vote", {4: [("a", 3.0), ("b", 8.0)], 2: [("c", 4.0), ("d", 5.0)]}, 1, [4]),
    ("tie with same first vote goes to the lower number", {5: [("a", 1.0)], 3: [("b", 1.0)]}, 1, [3]),
    ("top k keeps the order", {1: [("a", 1.0)], 2: [("a", 2.0), ("b", 2.0)], 3: [("c", 0.5)]}, 2, [2, 3]),
    ("no votes never win", {1: [], 2: [("a", 1.0)]}, 3, [2]),
    ("nobody voted", {1: [], 2: []}, 1, []),
    (
        "a user's repeated vote counts once",
        {1: [("a", 1.0), ("a", 2.0), ("a", 3.0)], 2: [("b", 5), ("c", 6)]},
        1,
        [2],
    ),
]


@pytest.mark.parametrize(
    ("tally", "top_k", "expected"), [c[1:] for c in WINNER_CASES], ids=[c[0] for c in WINNER_CASES]
)
def test_winners(tally: Tally, top_k: int, expected: list[int]) -> None:
    assert winners(tally, top_k) == expected


def test_quorum_counts_distinct_voters_across_candidates() -> None:
    tally: Tally = {1: [("a", 1.0), ("b", 2.0)], 2: [("a", 3.0)], 3: [("b", 4.0)]}
    assert quorum_reached(tally, 2)
    assert not quorum_reached(tally, 3)
    assert not quorum_reached({}, 1)
    assert not quorum_reached(tally, None)


def test_number_reactions_map_to_grid_positions() -> None:
    assert vote_for_emoji(NUMBER_EMOJI[0], ROUND2_OPEN) == 9
    assert vote_for_emoji(NUMBER_EMOJI[7], ROUND2_OPEN) == 16
    assert vote_for_emoji(NUMBER_EMOJI[8], ROUND2_OPEN) is None  # the grid holds 8
    assert vote_for_emoji("1\u20e3", ROUND2_OPEN) == 9  # keycap sent without the variation selector
    assert vote_for_emoji("👍", ROUND2_OPEN) is None
