"""Buttons: how an action id is written, read back, and turned into the command it stands for.

A button's action id carries all the state it needs, ``dl:<action>:<campaign>:<number>[:arg]``, so a
button keeps working after a restart and on any replica.
"""

from __future__ import annotations

from collections.abc import Callable

from bot.core.commands import Command, CommandError, Inpaint
from bot.core.grammar.parse import parse_tokens
from bot.core.grammar.table import BY_WORDS
from bot.core.grammar.tokens import Token
from bot.core.model import Campaign


def action_id(action: str, campaign_id: str, number: int, arg: str = "") -> str:
    base = f"dl:{action}:{campaign_id}:{number}"
    return f"{base}:{arg}" if arg else base


def parse_action_id(value: str) -> tuple[str, str, int, str] | None:
    parts = value.split(":")
    if len(parts) not in (4, 5) or parts[0] != "dl":
        return None
    try:
        number = int(parts[3])
    except ValueError:
        return None
    return parts[1], parts[2], number, parts[4] if len(parts) == 5 else ""


def command_for(campaign: Campaign, action: str, number: int, arg: str) -> Command | CommandError | None:
    """The command a button stands for; a CommandError when its values are not ones the same command
    typed would take, or its number is not a candidate; None for an action this version doesn't know.
    """
    words = _BUTTON_WORDS.get(action)
    if words is None:
        return None
    if arg and action not in _TAKES_VALUE:
        return CommandError(message=f"The {action} button takes no value, got {arg[:20]!r}.")
    spec = BY_WORDS[(_COMMAND_OF.get(action, action),)]
    command = parse_tokens(spec, [Token(str(number)), *words(arg)])
    if isinstance(command, CommandError):
        return command
    if number not in campaign.candidates:
        return CommandError(message=f"#{number} is not one of this campaign's candidates.")
    if action == "inpaint-faces":
        return Inpaint(number=number, prompt=_prompt_of(campaign, number), faces=True)
    return command


def _value(arg: str) -> list[Token]:
    return [Token(arg, quoted=True)] if arg else []


def _outpaint_words(arg: str) -> list[Token]:
    """A zoom when the value reads as a number (``nan`` and ``1e200`` do), else a pan."""
    if not arg:
        return []
    try:
        float(arg)
        flag = "--zoom"
    except ValueError:
        flag = "--pan" if arg.isalpha() else "--zoom"
    return [Token(flag), Token(arg, quoted=True)]


def _none(arg: str) -> list[Token]:
    return []


# action -> the words after the candidate number, as the same command would be typed
_BUTTON_WORDS: dict[str, Callable[[str], list[Token]]] = {
    "vary": _value,
    "refine": _none,
    "select": _none,
    "upscale": _value,
    "faces": _none,
    "outpaint": _outpaint_words,
    "inpaint-faces": _none,
}
_TAKES_VALUE = frozenset({"vary", "upscale", "outpaint"})
# the command whose grammar checks a button's values, where it isn't the action's own name
_COMMAND_OF = {"inpaint-faces": "faces"}


def _prompt_of(campaign: Campaign, number: int) -> str:
    cand = campaign.candidates.get(number)
    return cand.prompt if cand is not None else campaign.settings.prompt
