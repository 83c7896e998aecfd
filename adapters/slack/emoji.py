"""Slack's names for the number emoji the bot's voting grids use, both ways."""

from __future__ import annotations

from bot.core.messages import NUMBER_EMOJI

SLACK_NUMBER_NAMES: tuple[str, ...] = (
    "one",
    "two",
    "three",
    "four",
    "five",
    "six",
    "seven",
    "eight",
    "nine",
    "keycap_ten",
)
_VARIATION_SELECTOR = "\ufe0f"
_PAIRS = tuple(zip(NUMBER_EMOJI, SLACK_NUMBER_NAMES, strict=True))
_TO_SLACK = {e.replace(_VARIATION_SELECTOR, ""): name for e, name in _PAIRS}
_FROM_SLACK = {name: e for e, name in _PAIRS}


def to_slack(emoji: str) -> str | None:
    """The Slack reaction name of one of the bot's emoji (None when Slack has no name for it here)."""
    return _TO_SLACK.get(emoji.replace(_VARIATION_SELECTOR, ""))


def from_slack(name: str) -> str:
    """The emoji a Slack reaction name stands for; names the bot does not use come back unchanged."""
    base = name.split("::", 1)[0].strip(":")  # "one::skin-tone-2" -> "one"
    return _FROM_SLACK.get(base, name)
