"""The command grammar shared by every adapter.

One table of parameters (flags and positional arguments) drives the inline parser (``parse``), the
slash-option parser (``parse_options``), the canonical printer (``format_command``) and ``help_text``.
Both parsers turn their input into the same token stream and run the same code on it, so a slash
command and its inline form give equal commands.
"""

from __future__ import annotations

import difflib
import math
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, cast

from croniter import croniter
from pydantic import BaseModel, ValidationError

from bot.core.commands import (
    Cancel,
    Command,
    CommandError,
    Cost,
    Draft,
    Faces,
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
from bot.core.durations import format_duration, parse_duration
from engine.api import LoraSpec

MAX_PROMPT = 1000
MAX_LINE = 50_000
MAX_CANDIDATE = 9999
OUTPAINT_DEFAULT_ZOOM = 1.5
OptionValue = str | int | float | bool | None


class _Invalid(Exception):
    """A value that does not fit its type; turned into a CommandError by the parser."""


# ---------------------------------------------------------------------------------------------
# value types: read a raw word, print a value back, describe what is allowed


def _fmt_float(v: float) -> str:
    s = repr(float(v))
    return s[:-2] if s.endswith(".0") else s


_INT_RE = re.compile(r"[+-]?\d{1,20}")
_FLOAT_RE = re.compile(r"[+-]?(?:\d{1,20}\.?\d{0,20}|\.\d{1,20})(?:[eE][+-]?\d{1,3})?")


class ValueType:
    metavar = "VALUE"

    def describe(self) -> str:
        raise NotImplementedError

    def parse(self, raw: str) -> Any:
        raise NotImplementedError

    def format(self, value: Any) -> str:
        return str(value)


class IntRange(ValueType):
    metavar = "N"

    def __init__(self, lo: int, hi: int) -> None:
        self.lo, self.hi = lo, hi

    def describe(self) -> str:
        return f"a whole number {self.lo}-{self.hi}"

    def parse(self, raw: str) -> int:
        if not _INT_RE.fullmatch(raw.strip()):
            raise _Invalid
        v = int(raw)
        if not self.lo <= v <= self.hi:
            raise _Invalid
        return v


class FloatRange(ValueType):
    metavar = "X"

    def __init__(self, lo: float, hi: float) -> None:
        self.lo, self.hi = lo, hi

    def describe(self) -> str:
        return f"a number {_fmt_float(self.lo)}-{_fmt_float(self.hi)}"

    def parse(self, raw: str) -> float:
        if not _FLOAT_RE.fullmatch(raw.strip()):
            raise _Invalid
        v = float(raw)
        if not math.isfinite(v) or not self.lo <= v <= self.hi:
            raise _Invalid
        return v

    def format(self, value: Any) -> str:
        return _fmt_float(value)


class Choice(ValueType):
    def __init__(self, *choices: str | int) -> None:
        self.choices = choices
        self.metavar = "|".join(str(c) for c in choices)

    def describe(self) -> str:
        return "one of " + ", ".join(str(c) for c in self.choices)

    def parse(self, raw: str) -> str | int:
        word = raw.strip().lower()
        for c in self.choices:
            if word == str(c):
                return c
        raise _Invalid


class Scale(Choice):
    def __init__(self) -> None:
        super().__init__(2, 4)

    def describe(self) -> str:
        return "2 or 4 (2x and x2 work too)"

    def parse(self, raw: str) -> str | int:
        return super().parse(raw.strip().lower().removeprefix("x").removesuffix("x"))


class Aspect(ValueType):
    metavar = "W:H"
    _re = re.compile(r"(\d{1,2}):(\d{1,2})")

    def describe(self) -> str:
        return "W:H with each side 1-21 and the ratio within 1:4..4:1"

    def parse(self, raw: str) -> tuple[int, int]:
        m = self._re.fullmatch(raw.strip())
        if m is None:
            raise _Invalid
        w, h = int(m.group(1)), int(m.group(2))
        if not (1 <= w <= 21 and 1 <= h <= 21 and w <= 4 * h and h <= 4 * w):
            raise _Invalid
        return (w, h)

    def format(self, value: Any) -> str:
        return f"{value[0]}:{value[1]}"


class Duration(ValueType):
    metavar = "DURATION"

    def __init__(self, lo: int, hi: int) -> None:
        self.lo, self.hi = lo, hi

    def describe(self) -> str:
        return (
            f"a duration {format_duration(self.lo)}-{format_duration(self.hi)} "
            "like 30s, 30m, 2h or 1h30m (a plain number is minutes)"
        )

    def parse(self, raw: str) -> int:
        v = parse_duration(raw)
        if v is None or not self.lo <= v <= self.hi:
            raise _Invalid
        return v

    def format(self, value: Any) -> str:
        return format_duration(int(value))


class Budget(ValueType):
    """A duration of device time, or ``none`` (parsed as None) to clear the budget."""

    metavar = "DURATION|none"

    def __init__(self, lo: int, hi: int) -> None:
        self.duration = Duration(lo, hi)

    def describe(self) -> str:
        return self.duration.describe() + ", or none"

    def parse(self, raw: str) -> int | None:
        if raw.strip().lower() == "none":
            return None
        return self.duration.parse(raw)

    def format(self, value: Any) -> str:
        return "none" if value is None else self.duration.format(value)


class Text(ValueType):
    metavar = "TEXT"

    def __init__(self, limit: int = MAX_PROMPT) -> None:
        self.limit = limit

    def describe(self) -> str:
        return f"text of 1-{self.limit} characters"

    def parse(self, raw: str) -> str:
        v = raw.strip()
        if not v or len(v) > self.limit:
            raise _Invalid
        return v


class Ref(Text):
    metavar = "IMAGE"

    def __init__(self) -> None:
        super().__init__(2000)

    def describe(self) -> str:
        return "an image: an attachment name, URL or artifact key"


class Name(Text):
    metavar = "NAME"

    def __init__(self) -> None:
        super().__init__(200)

    def describe(self) -> str:
        return "a model name, hub id or path"


class Lora(ValueType):
    metavar = "NAME:WEIGHT"
    _re = re.compile(r"([A-Za-z0-9_./-]{1,100})(?::(.*))?", re.DOTALL)
    _weight = FloatRange(-2, 2)

    def describe(self) -> str:
        default = _fmt_float(LoraSpec.model_fields["weight"].default)
        return f"NAME:WEIGHT with a weight -2..2 (the weight is {default} if left out)"

    def parse(self, raw: str) -> LoraSpec:
        m = self._re.fullmatch(raw.strip())
        if m is None:
            raise _Invalid
        if m.group(2) is None:
            return LoraSpec(name=m.group(1))
        return LoraSpec(name=m.group(1), weight=self._weight.parse(m.group(2)))

    def format(self, value: Any) -> str:
        return f"{value.name}:{_fmt_float(value.weight)}"


class Box(ValueType):
    metavar = "x,y,w,h"
    _re = re.compile(r"\s*(\d{1,5})\s*,\s*(\d{1,5})\s*,\s*(\d{1,5})\s*,\s*(\d{1,5})\s*")

    def describe(self) -> str:
        return "x,y,w,h in pixels of the image (w and h at least 1)"

    def parse(self, raw: str) -> tuple[int, int, int, int]:
        m = self._re.fullmatch(raw)
        if m is None:
            raise _Invalid
        x, y, w, h = (int(g) for g in m.groups())
        if w < 1 or h < 1:
            raise _Invalid
        return (x, y, w, h)

    def format(self, value: Any) -> str:
        return ",".join(str(v) for v in value)


class Switch(ValueType):
    """A flag without a value: present means on."""

    metavar = ""
    _true = frozenset({"true", "yes", "on", "1"})
    _false = frozenset({"false", "no", "off", "0"})

    def describe(self) -> str:
        return "on or off (as a flag it takes no value)"

    def parse(self, raw: str) -> bool:
        word = raw.strip().lower()
        if word in self._true:
            return True
        if word in self._false:
            return False
        raise _Invalid


class Candidate(ValueType):
    metavar = "<n>"
    _re = re.compile(r"#?(\d{1,4})")

    def describe(self) -> str:
        return f"a candidate number 1-{MAX_CANDIDATE} like 3 or #3"

    def parse(self, raw: str) -> int:
        m = self._re.fullmatch(raw.strip())
        if m is None or int(m.group(1)) < 1:
            raise _Invalid
        return int(m.group(1))


class Candidates(Candidate):
    metavar = "<n...>"
    limit = 10

    def describe(self) -> str:
        return f"up to {self.limit} candidate numbers 1-{MAX_CANDIDATE} like 2 5 or #2,#5"

    def parse_many(self, raws: Sequence[str]) -> tuple[int, ...]:
        words = [w for raw in raws for w in re.split(r"[,\s]+", raw) if w]
        if not words:
            raise _Invalid
        numbers = tuple(dict.fromkeys(self.parse(w) for w in words))
        if len(numbers) > self.limit:
            raise _Invalid
        return numbers

    def format(self, value: Any) -> str:
        return " ".join(str(v) for v in value)


class Cron(ValueType):
    metavar = '"<cron>"'

    def describe(self) -> str:
        return 'a cron line of 5 fields in quotes, like "0 9 * * 1" (Mondays at 09:00)'

    def parse(self, raw: str) -> str:
        line = " ".join(raw.split())
        if len(line.split(" ")) != 5 or len(line) > 200:
            raise _Invalid
        try:
            ok = bool(croniter.is_valid(line))
        except Exception:
            ok = False
        if not ok:
            raise _Invalid
        return line


class ScheduleId(ValueType):
    metavar = "<id>"
    _re = re.compile(r"[A-Za-z0-9_-]{1,64}")

    def describe(self) -> str:
        return "a schedule id as shown by /schedule list"

    def parse(self, raw: str) -> str:
        v = raw.strip()
        if not self._re.fullmatch(v):
            raise _Invalid
        return v


# ---------------------------------------------------------------------------------------------
# the one table


@dataclass(frozen=True)
class Param:
    key: str  # flag name (``--key``), option name, settings key
    field: str  # the command field it fills
    vtype: ValueType
    help: str
    example: str  # an example value, as typed
    max_count: int = 1  # more than 1: the flag may be repeated
    greedy: bool = False  # takes every word up to the next flag
    split: str | None = None  # splits one slash-option value into repeated values
    arity: str = "one"  # positional arguments: one | rest | many | cron
    # for a flag that fills more than one field (budget): value -> fields, and fields -> values
    assign: Callable[[Any], dict[str, Any]] | None = None
    read: Callable[[Mapping[str, Any]], list[Any]] | None = None

    meta: str = ""  # how usage lines show it, when not the type's own metavar

    @property
    def metavar(self) -> str:
        return self.meta or self.vtype.metavar

    @property
    def label(self) -> str:
        """How error messages name a positional argument."""
        return self.metavar if self.metavar[:1] in '<"' else f"<{self.key}>"

    def fields_for(self, values: list[Any]) -> dict[str, Any]:
        if self.assign is not None:
            return self.assign(values[0])
        if self.max_count > 1:
            return {self.field: tuple(values)}
        return {self.field: values[0]}

    def values_in(self, fields: Mapping[str, Any], default: Any) -> list[Any]:
        if self.read is not None:
            return self.read(fields)
        v = fields.get(self.field)
        if v is None or v == default or v is False:
            return []
        if self.max_count > 1:
            return list(v)
        return [v]


def _budget_fields(v: Any) -> dict[str, Any]:
    return {"clear_budget": True} if v is None else {"budget_seconds": float(v)}


def _budget_values(f: Mapping[str, Any]) -> list[Any]:
    if f.get("clear_budget"):
        return [None]
    return [] if f.get("budget_seconds") is None else [f["budget_seconds"]]


_PARAMS: tuple[Param, ...] = (
    Param("n", "n", IntRange(1, 10), "images in the grid", "4"),
    Param("ar", "aspect", Aspect(), "aspect ratio", "16:9"),
    Param("no", "negative", Text(), "what to keep out (the words up to the next flag)", "blurry, text",
          greedy=True),
    Param("seed", "seed", IntRange(0, 2**32 - 1), "seed, to repeat an image", "42"),
    Param("preset", "preset", Choice("draft", "preview", "final"), "quality preset", "preview"),
    Param("model", "model", Name(), "model to use", "sdxl-turbo"),
    Param("steps", "steps", IntRange(1, 150), "denoising steps", "30"),
    Param("cfg", "cfg", FloatRange(0, 30), "guidance scale", "7"),
    Param("lora", "loras", Lora(), "LoRA and weight, repeatable (up to 5)", "inkstyle:0.8",
          max_count=5, split=r"[\s,]+"),
    Param("sref", "sref", Ref(), "style reference image, repeatable (up to 4)", "moodboard.png",
          max_count=4, split=r"\s+"),
    Param("sw", "sw", FloatRange(0, 2), "style reference weight", "0.6"),
    Param("cref", "cref", Ref(), "character reference image", "hero.png"),
    Param("image", "image", Ref(), "init image to start from", "mockup.png"),
    Param("strength", "strength", FloatRange(0, 1), "how far to move away from --image", "0.6"),
    Param("sketch", "sketch", Ref(), "sketch or line art to follow", "sketch.png"),
    Param("control", "control", Choice("canny", "lineart"), "how to read --sketch", "lineart"),
    Param("vote", "vote_seconds", Duration(30, 7 * 86_400), "how long the vote stays open", "30m"),
    Param("quorum", "quorum", IntRange(1, 100), "votes that close the round early", "3"),
    Param("top", "top", IntRange(1, 10), "winners kept from the round", "2"),
    Param("box", "box", Box(), "area to repaint", "40,60,200,120"),
    Param("faces", "faces", Switch(), "work on the faces", ""),
    Param("mask", "mask", Ref(), "mask image, white is repainted", "mask.png"),
    Param("zoom", "zoom", FloatRange(1.1, 4), f"zoom out (default {OUTPAINT_DEFAULT_ZOOM})", "2"),
    Param("pan", "pan", Choice("left", "right", "up", "down"), "extend the image one way", "left"),
    Param("budget", "budget_seconds", Budget(1, 30 * 86_400), "device-time budget of the campaign", "10m",
          assign=_budget_fields, read=_budget_values),
)
_ARGS: tuple[Param, ...] = (
    Param("prompt", "prompt", Text(), "what to draw", "a red fox in snow", arity="rest",
          meta="<prompt>"),
    Param("number", "number", Candidate(), "candidate number", "3"),
    Param("numbers", "numbers", Candidates(), "candidate numbers", "2 5", arity="many"),
    Param("strength", "strength", Choice("subtle", "strong"), "how far the variations move", "strong"),
    Param("scale", "scale", Scale(), "upscale factor", "2"),
    Param("cron", "cron", Cron(), "when to run", '"0 9 * * 1"', arity="cron"),
    Param("id", "schedule_id", ScheduleId(), "schedule id", "a1b2c3"),
)
FLAGS: dict[str, Param] = {p.key: p for p in _PARAMS}
ARGS: dict[str, Param] = {p.key: p for p in _ARGS}


@dataclass(frozen=True)
class Arg:
    key: str
    required: bool = True


_DRAFT_FLAGS = ("n", "ar", "no", "seed", "preset", "model", "steps", "cfg", "lora", "sref", "sw", "cref",
                "image", "strength", "sketch", "control", "vote", "quorum", "top")
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
    if sum((f.get("box") is not None, bool(f.get("faces")), f.get("mask") is not None)) != 1:
        return CommandError(
            message="/inpaint needs exactly one of --box x,y,w,h, --faces or --mask IMAGE.",
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


COMMANDS: tuple[CommandSpec, ...] = (
    CommandSpec(("draft",), Draft, "start a round of cheap drafts for the team to vote on",
                "/draft a red fox in snow --n 4 --ar 16:9 --no blurry, text --vote 30m", "/draft a fox",
                args=(Arg("prompt"),), flags=_DRAFT_FLAGS),
    CommandSpec(("vary",), Vary, "variations of one candidate", "/vary 3 strong", "/vary 3",
                args=(Arg("number"), Arg("strength", required=False))),
    CommandSpec(("reroll",), Reroll, "draft the round again with new seeds", "/reroll", "/reroll"),
    CommandSpec(("select",), Select, "close the vote and pick the winners", "/select 2 5", "/select 2",
                args=(Arg("numbers"),)),
    CommandSpec(("refine",), Refine, "make the winners at full quality, same seed",
                "/refine 3 --ar 16:9 --preset final", "/refine 3",
                args=(Arg("number", required=False),), flags=("ar", "preset")),
    CommandSpec(("inpaint",), Inpaint, "repaint part of a candidate",
                "/inpaint 3 a red scarf --box 40,60,200,120", "/inpaint 3 a red scarf",
                args=(Arg("number"), Arg("prompt")), flags=("box", "faces", "mask"), finish=_finish_inpaint),
    CommandSpec(("outpaint",), Outpaint, "extend a candidate beyond its borders", "/outpaint 3 --pan left",
                "/outpaint 3", args=(Arg("number"),), flags=("zoom", "pan"), finish=_finish_outpaint),
    CommandSpec(("upscale",), Upscale, "upscale a candidate for delivery", "/upscale 3 2 --faces",
                "/upscale 3", args=(Arg("number"), Arg("scale", required=False)), flags=("faces",)),
    CommandSpec(("faces",), Faces, "restore the faces of a candidate", "/faces 3", "/faces 3",
                args=(Arg("number"),)),
    CommandSpec(("status",), Status, "where the campaign stands", "/status", "/status"),
    CommandSpec(("cost",), Cost, "device time spent and saved", "/cost", "/cost"),
    CommandSpec(("cancel",), Cancel, "stop the campaign and its jobs", "/cancel", "/cancel"),
    CommandSpec(("settings",), SettingsCmd, "show or change the campaign defaults",
                "/settings budget 10m quorum 3 vote 1h", "/settings",
                flags=("budget", "quorum", "vote", "top", "n", "ar", "preset"), bare_keys=True),
    CommandSpec(("schedule", "add"), ScheduleAdd, "run a draft on a cron schedule",
                '/schedule add "0 9 * * 1" a fox at dawn --n 4', '/schedule add "0 9 * * 1" a fox',
                args=(Arg("cron"), Arg("prompt")), flags=_DRAFT_FLAGS),
    CommandSpec(("schedule", "list"), ScheduleList, "list this channel's schedules", "/schedule list",
                "/schedule list"),
    CommandSpec(("schedule", "remove"), ScheduleRemove, "remove a schedule", "/schedule remove a1b2c3",
                "/schedule remove a1b2c3", args=(Arg("id"),)),
)
_BY_WORDS: dict[tuple[str, ...], CommandSpec] = {c.words: c for c in COMMANDS}
_BY_MODEL: dict[type[BaseModel], CommandSpec] = {c.model: c for c in COMMANDS}
_TOP_WORDS: tuple[str, ...] = tuple(dict.fromkeys(c.words[0] for c in COMMANDS))


# ---------------------------------------------------------------------------------------------
# tokens


@dataclass(frozen=True)
class Token:
    text: str
    quoted: bool = False  # quoted words are never read as flags


_OPEN_QUOTES = frozenset('"“')
_CLOSE_QUOTES = frozenset('"”')
_ESCAPABLE = frozenset('\\"“”')
_FLAG_RE = re.compile(r"(?:--|—|–)([A-Za-z][\w-]*)(?:=(.*))?", re.DOTALL)
_BARE_RE = re.compile(r"([A-Za-z]+)(?:=(.*))?", re.DOTALL)


def _read_quoted(text: str, start: int) -> tuple[str, int] | None:
    out: list[str] = []
    j, n = start, len(text)
    while j < n:
        c = text[j]
        if c == "\\" and j + 1 < n and text[j + 1] in _ESCAPABLE:
            out.append(text[j + 1])
            j += 2
        elif c in _CLOSE_QUOTES and (j + 1 == n or text[j + 1].isspace()):
            return "".join(out), j + 1
        else:
            out.append(c)
            j += 1
    return None


def tokenize(text: str) -> list[Token]:
    """Words split on whitespace; ``"..."`` (or “...”) is one word, with ``\\"`` and ``\\\\`` escapes.

    An unmatched quote is an ordinary character, so ``a 12" record`` needs no escaping.
    """
    tokens: list[Token] = []
    i, n = 0, len(text)
    while i < n:
        if text[i].isspace():
            i += 1
            continue
        if text[i] in _OPEN_QUOTES:
            got = _read_quoted(text, i + 1)
            if got is not None:
                tokens.append(Token(got[0], quoted=True))
                i = got[1]
                continue
        j = i
        while j < n and not text[j].isspace():
            j += 1
        flag = _FLAG_RE.fullmatch(text[i:j])
        if flag and flag.group(2) and flag.group(2)[0] in _OPEN_QUOTES:
            got = _read_quoted(text, i + flag.start(2) + 1)
            if got is not None:
                tokens.append(Token(text[i : i + flag.start(2)] + got[0]))
                i = got[1]
                continue
        tokens.append(Token(text[i:j]))
        i = j
    return tokens


def _flag_of(tok: Token, spec: CommandSpec) -> tuple[str, str | None] | None:
    """(name, inline value) when the token is a flag for this command (or looks like any flag)."""
    if tok.quoted:
        return None
    m = _FLAG_RE.fullmatch(tok.text)
    if m is not None:
        return m.group(1).lower(), m.group(2)
    if spec.bare_keys:
        m = _BARE_RE.fullmatch(tok.text)
        if m is not None and m.group(1).lower() in spec.flags:
            return m.group(1).lower(), m.group(2)
    return None


def _quote(text: str) -> str:
    escaped = "".join("\\" + c if c in _ESCAPABLE else c for c in text)
    return f'"{escaped}"'


def _render_text(text: str, spec: CommandSpec) -> str:
    """Words as typed when they read back unchanged, otherwise one quoted word."""
    tokens = tokenize(text)
    plain = (
        bool(tokens)
        and all(not t.quoted and t.text[0] not in _OPEN_QUOTES and _flag_of(t, spec) is None for t in tokens)
        and " ".join(t.text for t in tokens) == text
    )
    return text if plain else _quote(text)


def _render_word(text: str, spec: CommandSpec) -> str:
    return text if len(tokenize(text)) == 1 and _render_text(text, spec) == text else _quote(text)


# ---------------------------------------------------------------------------------------------
# parsing


def _bad_value(label: str, p: Param, raw: str, example: str) -> CommandError:
    shown = raw if len(raw) <= 40 else raw[:40] + "…"
    return CommandError(message=f"{label} must be {p.vtype.describe()}, got {shown!r}.", flag=label,
                        example=example)


def _flag_example(spec: CommandSpec, key: str) -> str:
    p = FLAGS[key]
    line = f"{spec.base} {spec.flag_word(key)}"
    return f"{line} {p.example}" if p.example else line


def _missing_arg(spec: CommandSpec, key: str) -> CommandError:
    p = ARGS[key]
    return CommandError(message=f"{spec.title} needs {p.label} ({p.help}). Usage: {spec.usage()}",
                        flag=p.label, example=spec.example)


def _parse_arg(spec: CommandSpec, p: Param, raws: list[str]) -> Any:
    if p.arity == "many" and isinstance(p.vtype, Candidates):
        return p.vtype.parse_many(raws)
    return p.vtype.parse(" ".join(raws))


def _assign_args(spec: CommandSpec, words: list[Token]) -> Fields | CommandError:
    fields: Fields = {}
    i = 0
    for arg in spec.args:
        p = ARGS[arg.key]
        if i >= len(words):
            if arg.required:
                return _missing_arg(spec, arg.key)
            continue
        if p.arity in ("rest", "many"):
            taken = words[i:]
        elif p.arity == "cron" and not words[i].quoted:
            taken = words[i : i + 5]
        else:
            taken = words[i : i + 1]
        i += len(taken)
        raws = [t.text for t in taken]
        try:
            fields.update(p.fields_for([_parse_arg(spec, p, raws)]))
        except _Invalid:
            return _bad_value(p.label, p, " ".join(raws), spec.example)
    if i < len(words):
        extra = " ".join(t.text for t in words[i:])
        extra = extra if len(extra) <= 40 else extra[:40] + "…"
        if spec.bare_keys:
            keys = ", ".join(spec.flags)
            return CommandError(message=f"Unknown {spec.title} key {extra!r}; the keys are {keys}.",
                                flag=None, example=spec.example)
        return CommandError(message=f"Unexpected {extra!r}. Usage: {spec.usage()}", flag=None,
                            example=spec.example)
    return fields


def _parse_tokens(spec: CommandSpec, tokens: list[Token]) -> Command | CommandError:
    values: dict[str, list[Any]] = {}
    words: list[Token] = []
    i = 0
    while i < len(tokens):
        tok = tokens[i]
        i += 1
        flag = _flag_of(tok, spec)
        if flag is None:
            words.append(tok)
            continue
        key, inline = flag
        label = spec.flag_word(key)
        if key not in spec.flags:
            allowed = ", ".join(f"--{k}" for k in spec.flags)
            msg = (f"{tok.text.split('=')[0]} is not a {spec.title} option; "
                   + (f"use {allowed}." if allowed else f"{spec.title} takes no options."))
            return CommandError(message=msg, flag=tok.text.split("=")[0], example=spec.example)
        p = FLAGS[key]
        seen = values.setdefault(key, [])
        if len(seen) >= p.max_count:
            times = "once" if p.max_count == 1 else f"at most {p.max_count} times"
            return CommandError(message=f"{label} can be given {times}.", flag=label,
                                example=_flag_example(spec, key))
        if isinstance(p.vtype, Switch):
            if inline is not None:
                return CommandError(message=f"{label} takes no value, got {inline!r}.", flag=label,
                                    example=_flag_example(spec, key))
            seen.append(True)
            continue
        parts = [] if inline is None else [inline]
        while i < len(tokens) and _flag_of(tokens[i], spec) is None and (p.greedy or not parts):
            parts.append(tokens[i].text)
            i += 1
        if not parts:
            return CommandError(message=f"{label} needs a value: {p.vtype.describe()}.", flag=label,
                                example=_flag_example(spec, key))
        raw = " ".join(parts)
        try:
            seen.append(p.vtype.parse(raw))
        except _Invalid:
            return _bad_value(label, p, raw, _flag_example(spec, key))
    fields = _assign_args(spec, words)
    if isinstance(fields, CommandError):
        return fields
    for key, got in values.items():
        fields.update(FLAGS[key].fields_for(got))
    if spec.finish is not None:
        finished = spec.finish(fields)
        if isinstance(finished, CommandError):
            return finished
        fields = finished
    try:
        return cast(Command, spec.build(fields))
    except ValidationError as e:
        return _validation_error(spec, e)


def _validation_error(spec: CommandSpec, e: ValidationError) -> CommandError:
    first = e.errors()[0] if e.errors() else {"loc": (), "msg": "invalid"}
    field = str(first["loc"][0]) if first["loc"] else ""
    by_field = {p.field: spec.flag_word(p.key) for p in _PARAMS} | {p.field: p.key for p in _ARGS}
    label = by_field.get(field, field or spec.title)
    return CommandError(message=f"{label} is not valid: {first['msg']}.", flag=label, example=spec.example)


def _unknown_command(word: str) -> CommandError:
    names = ", ".join(f"/{w}" for w in _TOP_WORDS)
    close = difflib.get_close_matches(word.lower(), _TOP_WORDS, n=1)
    hint = f" Did you mean /{close[0]}?" if close else ""
    shown = word if len(word) <= 30 else word[:30] + "…"
    return CommandError(message=f"Unknown command {shown!r}.{hint} Commands: {names}.",
                        example=COMMANDS[0].example)


def _no_command() -> CommandError:
    names = ", ".join(f"/{w}" for w in _TOP_WORDS)
    return CommandError(message=f"Type a command: {names}.", example=COMMANDS[0].example)


def _find_spec(words: Sequence[str]) -> tuple[CommandSpec, int] | CommandError:
    if not words or not words[0]:
        return _no_command()
    head = words[0].lower()
    subs = [c for c in COMMANDS if c.words[0] == head and len(c.words) > 1]
    if not subs:
        spec = _BY_WORDS.get((head,))
        return (spec, 1) if spec is not None else _unknown_command(words[0])
    second = words[1].lower() if len(words) > 1 else ""
    for spec in subs:
        if spec.words[1] == second:
            return spec, 2
    choices = ", ".join(c.words[1] for c in subs)
    return CommandError(message=f"/{head} needs one of: {choices}.", flag=None, example=subs[0].example)


def parse(text: str) -> Command | CommandError:
    """A whole chat line (the leading slash is optional) -> a typed command, or why not."""
    try:
        if not isinstance(text, str):
            return _no_command()
        if len(text) > MAX_LINE:
            return CommandError(message=f"That command is longer than {MAX_LINE} characters.",
                                example=COMMANDS[0].example)
        tokens = tokenize(text.strip().removeprefix("/"))
        found = _find_spec([t.text for t in tokens[:2]])
        if isinstance(found, CommandError):
            return found
        spec, used = found
        return _parse_tokens(spec, tokens[used:])
    except Exception:
        return CommandError(message="Sorry, I could not read that command.", example=COMMANDS[0].example)


# ---------------------------------------------------------------------------------------------
# slash-command options


def _option_word(value: OptionValue) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _option_tokens(spec: CommandSpec, options: Mapping[str, OptionValue]) -> list[Token] | CommandError:
    params = [ARGS[a.key] for a in spec.args] + [FLAGS[k] for k in spec.flags]
    by_name: dict[str, Param] = {p.key: p for p in params}
    for p in params:
        by_name.setdefault(p.field, p)
    given: dict[str, tuple[Param, OptionValue]] = {}
    for raw_key, value in options.items():
        key = str(raw_key).strip().lstrip("-").lower()
        if value is None or (len(spec.words) > 1 and key in ("action", "subcommand")):
            continue
        param = by_name.get(key)
        if param is None:
            names = ", ".join([a.key for a in spec.args] + list(spec.flags)) or "none"
            return CommandError(message=f"{spec.title} has no option {raw_key!r}; its options: {names}.",
                                flag=str(raw_key), example=spec.example)
        if param.key in given:
            return CommandError(message=f"{raw_key!r} was given twice.", flag=str(raw_key),
                                example=spec.example)
        given[param.key] = (param, value)
    tokens: list[Token] = []
    for a in spec.args:
        if a.key not in given:
            if a.required:
                return _missing_arg(spec, a.key)
            continue
        p, value = given.pop(a.key)
        if isinstance(value, bool):
            return _bad_value(p.label, p, str(value), spec.example)
        word = _option_word(value)
        tokens.extend(tokenize(word) if p.arity == "rest" else [Token(word, quoted=True)])
    for key in spec.flags:
        if key not in given:
            continue
        p, value = given.pop(key)
        flag = Token(f"--{key}")
        if isinstance(p.vtype, Switch):
            try:
                on = value if isinstance(value, bool) else p.vtype.parse(_option_word(value))
            except _Invalid:
                return _bad_value(f"--{key}", p, str(value), _flag_example(spec, key))
            tokens.extend([flag] if on else [])
            continue
        if isinstance(value, bool):
            return _bad_value(f"--{key}", p, str(value), _flag_example(spec, key))
        word = _option_word(value)
        parts = [w for w in re.split(p.split, word) if w] if p.split else [word]
        for part in parts or [word]:
            tokens.extend([flag, Token(part, quoted=True)])
    return tokens


def parse_options(name: str, options: Mapping[str, OptionValue]) -> Command | CommandError:
    """A slash command's name and option values -> the same command as its inline form.

    ``name`` is the command (``draft``, ``schedule add``, ``schedule_add``, or ``schedule`` with an
    ``action`` option). A prompt option may carry inline flags (``a fox --ar 16:9``).
    """
    try:
        words = re.split(r"[\s_]+", str(name).strip().removeprefix("/"))
        action = options.get("action", options.get("subcommand"))
        if len(words) == 1 and isinstance(action, str):
            words.append(action.strip())
        found = _find_spec(words)
        if isinstance(found, CommandError):
            return found
        spec, used = found
        if used < len(words) and words[used]:
            return CommandError(message=f"Unexpected {words[used]!r} after {spec.title}.",
                                example=spec.example)
        tokens = _option_tokens(spec, options)
        if isinstance(tokens, CommandError):
            return tokens
        return _parse_tokens(spec, tokens)
    except Exception:
        return CommandError(message="Sorry, I could not read that command.", example=COMMANDS[0].example)


# ---------------------------------------------------------------------------------------------
# printing


def format_command(cmd: Command) -> str:
    """The canonical command line: ``parse(format_command(c)) == c`` for every parsed command."""
    spec = _BY_MODEL[type(cmd)]
    fields = spec.fields_of(cmd)
    parts = [spec.title]
    for a in spec.args:
        p = ARGS[a.key]
        v = fields.get(p.field)
        if v is None or (not a.required and v == spec.default_of(p.field)):
            continue
        if p.arity == "rest":
            parts.append(_render_text(p.vtype.format(v), spec))
        elif p.arity == "cron":
            parts.append(_quote(v))
        elif p.arity == "many":
            parts.append(p.vtype.format(v))
        else:
            parts.append(_render_word(p.vtype.format(v), spec))
    for key in spec.flags:
        p = FLAGS[key]
        for v in p.values_in(fields, spec.default_of(p.field)):
            parts.append(spec.flag_word(key))
            if isinstance(p.vtype, Switch):
                continue
            shown = p.vtype.format(v)
            parts.append(_render_text(shown, spec) if p.greedy else _render_word(shown, spec))
    return " ".join(parts)


def help_text() -> str:
    """The grammar summary with one example per command, for /help and the README."""
    width = max(len(c.title) for c in COMMANDS)
    lines = ["Commands:"]
    for c in COMMANDS:
        lines.append(f"  {c.title.ljust(width)}  {c.summary}. Example: {c.example}")
    lines.append("")
    lines.append("Options (--flag value or --flag=value; /settings also takes `key value`):")
    for p in _PARAMS:
        used = ", ".join(c.title for c in COMMANDS if p.key in c.flags and c.words != ("schedule", "add"))
        if isinstance(p.vtype, Switch):
            lines.append(f"  --{p.key}: {p.help} ({used})")
            continue
        lines.append(f"  --{p.key} {p.metavar}: {p.help}; {p.vtype.describe()}. "
                     f"e.g. --{p.key} {p.example} ({used})")
    lines.append("")
    lines.append("Candidates are numbered #1, #2, ... across the campaign; "
                 "durations: 30s, 30m, 2h, 1d, 1h30m (a plain number is minutes).")
    return "\n".join(lines)


__all__ = ["ARGS", "COMMANDS", "FLAGS", "format_command", "help_text", "parse", "parse_options", "tokenize"]
