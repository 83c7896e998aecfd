"""Buttons: how an action id is written, read back, and turned into the command it stands for.

A button's action id carries all the state it needs, ``dl:<action>:<campaign>:<number>[:arg]``, so a
button keeps working after a restart and on any replica.
"""

from __future__ import annotations

from collections.abc import Callable

from bot.core.commands import Command, Faces, Inpaint, Outpaint, Refine, Select, Upscale, Vary
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


def command_for(campaign: Campaign, action: str, number: int, arg: str) -> Command | None:
    """The command a button stands for, or None for an action this version doesn't know."""
    builders: dict[str, Callable[[], Command]] = {
        "vary": lambda: Vary(number=number, strength="strong" if arg == "strong" else "subtle"),
        "refine": lambda: Refine(number=number),
        "select": lambda: Select(numbers=(number,)),
        "upscale": lambda: Upscale(number=number, scale=2 if arg == "2" else 4),
        "faces": lambda: Faces(number=number),
        "outpaint": lambda: _outpaint(number, arg),
        "inpaint-faces": lambda: Inpaint(number=number, prompt=_prompt_of(campaign, number), faces=True),
    }
    build = builders.get(action)
    return build() if build is not None else None


def _outpaint(number: int, arg: str) -> Outpaint:
    if arg in ("left", "right", "up", "down"):
        return Outpaint(number=number, pan=arg)  # type: ignore[arg-type]
    try:
        return Outpaint(number=number, zoom=float(arg) if arg else None)
    except ValueError:
        return Outpaint(number=number)


def _prompt_of(campaign: Campaign, number: int) -> str:
    cand = campaign.candidates.get(number)
    return cand.prompt if cand is not None else campaign.settings.prompt
