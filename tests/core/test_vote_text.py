"""How a vote reads: the countdown as a time, voters against the quorum, leaders and ties, closed rounds."""

from __future__ import annotations

from bot.core import render
from bot.core.model import Round
from bot.core.vote_text import countdown, leader_text, round_state, tie_note, vote_line, voters_text

FOUR_AM = 1_800_000_000.0 - 4 * 3600  # 2027-01-15 04:00 UTC


def test_the_countdown_names_the_time_and_what_is_left() -> None:
    assert countdown(FOUR_AM + 25 * 60, FOUR_AM) == "closes 04:25 UTC, in 25 min"
    assert countdown(FOUR_AM + 90 * 60 + 1, FOUR_AM) == "closes 05:30 UTC, in 1 h 31 min"
    assert countdown(FOUR_AM + 2 * 3600, FOUR_AM) == "closes 06:00 UTC, in 2 h"
    assert countdown(FOUR_AM + 30, FOUR_AM) == "closes 04:00 UTC, in under a minute"
    assert countdown(FOUR_AM - 5, FOUR_AM) == "closing now (deadline 03:59 UTC)"
    assert countdown(None, FOUR_AM) == "no deadline"


def test_voters_leaders_and_ties() -> None:
    rnd = Round(number=2, kind="draft", candidates=[9, 10, 11], open=True, quorum=3, deadline=FOUR_AM + 600)
    assert voters_text(rnd) == "0 of 3 voted" and vote_line(rnd, None) == "round 2: 0 of 3 voted"
    rnd.tally = {10: [("a", 5.0), ("b", 6.0)], 9: [("c", 7.0)]}
    assert (
        vote_line(rnd, FOUR_AM)
        == "round 2: 3 of 3 voted · #10 leads with 2 votes · closes 04:10 UTC, in 10 min"
    )
    tied = {11: [("a", 3.0)], 9: [("b", 2.0)]}
    assert leader_text(tied) == "#9 and #11 tie at 1 vote (the earliest vote breaks it: #9)"
    assert tie_note(tied, [9]) == " #9 and #11 tied at 1 vote: #9 got its first vote earlier, so it goes on."
    assert tie_note(rnd.tally, [10]) == ""
    rnd.quorum = None
    assert voters_text(rnd) == "3 people voted"


def test_a_closed_round_says_so_and_who_went_on() -> None:
    rnd = Round(number=1, kind="draft", candidates=[1, 2], closed_by="quorum", winners=[2])
    assert round_state(rnd) == "Closed: round 1 reached its quorum: #2 went on. Votes are no longer counted."
    rnd.closed_by, rnd.winners = "deadline", []
    assert round_state(rnd) == "Closed: round 1 closed at its deadline. Votes are no longer counted."
    open_round = Round(number=3, kind="variation", candidates=[5], open=True, deadline=FOUR_AM + 60)
    assert round_state(open_round, FOUR_AM) == "Open for voting: no votes yet · closes 04:01 UTC, in 1 min"
    assert round_state(Round(number=4, kind="draft")) == "Round 4 is still being drafted."
    assert render.ZOOMS == ("1.5", "2")
