"""The command table: for each command its words, model, summary, example, positionals and flags."""

from __future__ import annotations

import difflib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel

from bot.core.commands import (
    Cancel,
    CommandError,
    Cost,
    Deliver,
    Draft,
    Faces,
    Help,
    Inpaint,
    Outpaint,
    Refine,
    Reroll,
    ScheduleAdd,
    ScheduleList,
    ScheduleRemove,
    Select,
    SettingsCmd,
    Status,
    Upscale,
    Vary,
)
from bot.core.grammar.params import ARGS, FLAGS, OUTPAINT_DEFAULT_ZOOM


@dataclass(frozen=True)
class Arg:
    key: str
    required: bool = True


_DRAFT_FLAGS = (
    "n",
    "ar",
    "no",
    "seed",
    "preset",
    "model",
    "steps",
    "cfg",
    "lora",
    "sref",
    "sw",
    "cref",
    "image",
    "strength",
    "sketch",
    "control",
    "vote",
    "quorum",
    "top",
)
# in a channel, the campaign a command is about (in its thread, the thread says)
_CAMPAIGN = ("campaign",)
Fields = dict[str, Any]


@dataclass(frozen=True)
class CommandSpec:
    words: tuple[str, ...]
    model: type[BaseModel]
    summary: str
    example: str
    base: str  # the start of a line that each flag's example completes
    args: tuple[Arg, ...] = ()
    flags: tuple[str, ...] = ()
    bare_keys: bool = False  # ``/settings quorum 3`` as well as ``--quorum 3``
    finish: Callable[[Fields], Fields | CommandError] | None = None

    @property
    def title(self) -> str:
        return "/" + " ".join(self.words)

    def flag_word(self, key: str) -> str:
        return key if self.bare_keys else f"--{key}"

    def flag_line(self, key: str) -> str:
        """A line that shows flag ``key`` with its example value."""
        p = FLAGS[key]
        start = self.example if key in _CAMPAIGN else self.base
        line = f"{start} {self.flag_word(key)}"
        return f"{line} {p.example}" if p.example else line

    def usage(self) -> str:
        parts = [self.title]
        for a in self.args:
            p = ARGS[a.key]
            parts.append(p.metavar if a.required else f"[{p.metavar}]")
        for key in self.flags:
            p = FLAGS[key]
            parts.append(f"[{self.flag_word(key)}{' ' + p.metavar if p.metavar else ''}]")
        return " ".join(parts)

    def build(self, fields: Fields) -> BaseModel:
        if self.model is ScheduleAdd:
            cron = fields.pop("cron")
            return ScheduleAdd(cron=cron, draft=Draft(**fields))
        return self.model(**fields)

    def fields_of(self, cmd: BaseModel) -> Fields:
        if isinstance(cmd, ScheduleAdd):
            return {**_fields(cmd.draft), "cron": cmd.cron}
        return _fields(cmd)

    def default_of(self, field: str) -> Any:
        model = Draft if self.model is ScheduleAdd else self.model
        info = model.model_fields.get(field)
        return None if info is None else info.default


def _fields(cmd: BaseModel) -> Fields:
    return {name: getattr(cmd, name) for name in type(cmd).model_fields}


def _finish_inpaint(f: Fields) -> Fields | CommandError:
    boxes = f.get("box") is not None or f.get("box_percent") is not None
    if sum((boxes, bool(f.get("faces")), f.get("mask") is not None)) != 1:
        return CommandError(
            message="/inpaint needs exactly one of --box x,y,w,h, --faces or --mask IMAGE (a box in "
            "pixels, or in percent of the image: 10%,20%,30%,40%).",
            flag="--box",
            example="/inpaint 3 a red scarf --box 40,60,200,120",
        )
    return f


def _finish_outpaint(f: Fields) -> Fields | CommandError:
    if f.get("zoom") is not None and f.get("pan") is not None:
        return CommandError(
            message="--zoom and --pan can't be used together: zoom out evenly, or extend one side.",
            flag="--pan",
            example="/outpaint 3 --pan left",
        )
    if f.get("pan") is None and f.get("zoom") is None:
        return {**f, "zoom": OUTPAINT_DEFAULT_ZOOM}
    return f


def _finish_help(f: Fields) -> Fields | CommandError:
    topic = f.get("topic")
    if topic is None or topic in TOPICS:
        return f
    close = difflib.get_close_matches(topic, TOPICS, n=1)
    hint = f" Did you mean /help {close[0]}?" if close else ""
    names = ", ".join(f"/{w}" for w in TOP_WORDS)
    shown = topic if len(topic) <= 30 else topic[:30] + "…"
    return CommandError(
        message=f"There is no command {shown!r}.{hint} Commands: {names}.",
        flag=ARGS["topic"].label,
        example="/help draft",
    )


COMMANDS: tuple[CommandSpec, ...] = (
    CommandSpec(
        ("draft",),
        Draft,
        "start a round of cheap drafts for the team to vote on",
        "/draft a red fox in snow --n 4 --ar 16:9 --no blurry, text --vote 30m",
        "/draft a fox",
        args=(Arg("prompt"),),
        flags=_DRAFT_FLAGS,
    ),
    CommandSpec(
        ("vary",),
        Vary,
        "variations of one candidate",
        "/vary 3 strong",
        "/vary 3",
        args=(Arg("number"), Arg("strength", required=False)),
        flags=_CAMPAIGN,
    ),
    CommandSpec(
        ("reroll",), Reroll, "draft the round again with new seeds", "/reroll", "/reroll", flags=_CAMPAIGN
    ),
    CommandSpec(
        ("select",),
        Select,
        "close the vote and pick the winners",
        "/select 2 5",
        "/select 2",
        args=(Arg("numbers"),),
        flags=_CAMPAIGN,
    ),
    CommandSpec(
        ("refine",),
        Refine,
        "make the winners at full quality, same seed",
        "/refine 3 --ar 16:9 --preset final",
        "/refine 3",
        args=(Arg("number", required=False),),
        flags=("ar", "preset", *_CAMPAIGN),
    ),
    CommandSpec(
        ("inpaint",),
        Inpaint,
        "repaint part of a candidate",
        "/inpaint 3 a red scarf --box 40,60,200,120",
        "/inpaint 3 a red scarf",
        args=(Arg("number"), Arg("prompt")),
        flags=("box", "faces", "mask", *_CAMPAIGN),
        finish=_finish_inpaint,
    ),
    CommandSpec(
        ("outpaint",),
        Outpaint,
        "extend a candidate beyond its borders",
        "/outpaint 3 --pan left",
        "/outpaint 3",
        args=(Arg("number"),),
        flags=("zoom", "pan", *_CAMPAIGN),
        finish=_finish_outpaint,
    ),
    CommandSpec(
        ("upscale",),
        Upscale,
        "upscale a candidate for delivery",
        "/upscale 3 2 --faces",
        "/upscale 3",
        args=(Arg("number"), Arg("scale", required=False)),
        flags=("faces", *_CAMPAIGN),
    ),
    CommandSpec(
        ("faces",),
        Faces,
        "restore the faces of a candidate",
        "/faces 3",
        "/faces 3",
        args=(Arg("number"),),
        flags=_CAMPAIGN,
    ),
    CommandSpec(("status",), Status, "where the campaign stands", "/status", "/status", flags=_CAMPAIGN),
    CommandSpec(("cost",), Cost, "device time spent and saved", "/cost", "/cost", flags=_CAMPAIGN),
    CommandSpec(
        ("deliver",),
        Deliver,
        "a zip of the finals, a contact sheet and their lineage",
        "/deliver",
        "/deliver",
        flags=_CAMPAIGN,
    ),
    CommandSpec(("cancel",), Cancel, "stop the campaign and its jobs", "/cancel", "/cancel", flags=_CAMPAIGN),
    CommandSpec(
        ("settings",),
        SettingsCmd,
        "show or change the campaign defaults",
        "/settings budget 10m quorum 3 vote 1h",
        "/settings",
        flags=("budget", "quorum", "vote", "top", "n", "ar", "preset", "novotes", "model", *_CAMPAIGN),
        bare_keys=True,
    ),
    CommandSpec(
        ("schedule", "add"),
        ScheduleAdd,
        "run a draft on a cron schedule",
        '/schedule add "0 9 * * 1" a fox at dawn --n 4',
        '/schedule add "0 9 * * 1" a fox',
        args=(Arg("cron"), Arg("prompt")),
        flags=_DRAFT_FLAGS,
    ),
    CommandSpec(
        ("schedule", "list"),
        ScheduleList,
        "list this channel's schedules",
        "/schedule list",
        "/schedule list",
    ),
    CommandSpec(
        ("schedule", "remove"),
        ScheduleRemove,
        "remove a schedule",
        "/schedule remove a1b2c3",
        "/schedule remove a1b2c3",
        args=(Arg("id"),),
    ),
    CommandSpec(
        ("help",),
        Help,
        "list the commands, or show one command's usage and options",
        "/help draft",
        "/help",
        args=(Arg("topic", required=False),),
        finish=_finish_help,
    ),
)
BY_WORDS: dict[tuple[str, ...], CommandSpec] = {c.words: c for c in COMMANDS}
BY_MODEL: dict[type[BaseModel], CommandSpec] = {c.model: c for c in COMMANDS}
TOP_WORDS: tuple[str, ...] = tuple(dict.fromkeys(c.words[0] for c in COMMANDS))
# what /help takes: each command's words, and the first word alone (``schedule``)
TOPICS: tuple[str, ...] = (
    *dict.fromkeys(w for c in COMMANDS for w in (c.words[0], " ".join(c.words))),
    "models",  # the models and LoRAs live workers serve (answered by the bot, from their heartbeats)
)
