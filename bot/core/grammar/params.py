"""Every parameter the grammar knows, once: the flags (``--n 4``) and the positional arguments.

A parameter names the command field it fills, its value type, a help line and an example value.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from bot.core.grammar.values import (
    Aspect,
    Box,
    Budget,
    Choice,
    Duration,
    FloatRange,
    IntRange,
    Scale,
    Switch,
    ValueType,
)
from bot.core.grammar.words import (
    CampaignRef,
    Candidate,
    Candidates,
    Cron,
    Lora,
    Name,
    Ref,
    ScheduleId,
    Text,
    Topic,
)

OUTPAINT_DEFAULT_ZOOM = 1.5


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


def _box_fields(v: Any) -> dict[str, Any]:
    unit, *numbers = v
    return {"box_percent": tuple(float(n) for n in numbers)} if unit == "%" else {"box": tuple(numbers)}


def _box_values(f: Mapping[str, Any]) -> list[Any]:
    if f.get("box_percent") is not None:
        return [("%", *f["box_percent"])]
    return [] if f.get("box") is None else [("px", *f["box"])]


def _budget_fields(v: Any) -> dict[str, Any]:
    return {"clear_budget": True} if v is None else {"budget_seconds": float(v)}


def _budget_values(f: Mapping[str, Any]) -> list[Any]:
    if f.get("clear_budget"):
        return [None]
    return [] if f.get("budget_seconds") is None else [f["budget_seconds"]]


_PARAMS: tuple[Param, ...] = (
    Param("n", "n", IntRange(1, 30), "images in the round (grids of ten)", "4"),
    Param("ar", "aspect", Aspect(), "aspect ratio", "16:9"),
    Param(
        "no",
        "negative",
        Text(),
        "what to keep out (the words up to the next flag)",
        "blurry, text",
        greedy=True,
    ),
    Param("seed", "seed", IntRange(0, 2**32 - 1), "seed, to repeat an image", "42"),
    Param("preset", "preset", Choice("draft", "draft-dpm", "preview", "final"), "quality preset", "preview"),
    Param("model", "model", Name(), "model to use", "sdxl-turbo"),
    Param("steps", "steps", IntRange(1, 150), "denoising steps", "30"),
    Param("cfg", "cfg", FloatRange(0, 30), "guidance scale", "7"),
    Param(
        "lora",
        "loras",
        Lora(),
        "LoRA and weight, repeatable (up to 5)",
        "inkstyle:0.8",
        max_count=5,
        split=r"[\s,]+",
    ),
    Param(
        "sref",
        "sref",
        Ref(),
        "style reference image, repeatable (up to 4)",
        "moodboard.png",
        max_count=4,
        split=r"\s+",
    ),
    Param("sw", "sw", FloatRange(0, 2), "style reference weight", "0.6"),
    Param("cref", "cref", Ref(), "character reference image", "hero.png"),
    Param("image", "image", Ref(), "init image to start from", "mockup.png"),
    Param("strength", "strength", FloatRange(0, 1), "how far to move away from --image", "0.6"),
    Param("sketch", "sketch", Ref(), "sketch or line art to follow", "sketch.png"),
    Param("control", "control", Choice("canny", "lineart"), "how to read --sketch", "lineart"),
    Param("vote", "vote_seconds", Duration(30, 7 * 86_400), "how long the vote stays open", "30m"),
    Param("quorum", "quorum", IntRange(1, 100), "votes that close the round early", "3"),
    Param("top", "top", IntRange(1, 5), "winners kept from the round", "2"),
    Param(
        "box",
        "box",
        Box(),
        "area to repaint, in pixels or percent",
        "40,60,200,120",
        assign=_box_fields,
        read=_box_values,
    ),
    Param(
        "novotes",
        "no_votes",
        Choice("wait", "scores"),
        "a round that closes with no votes: wait for a pick, or advance its top-scored drafts",
        "scores",
    ),
    Param("faces", "faces", Switch(), "work on the faces", ""),
    Param("mask", "mask", Ref(), "mask image, white is repainted", "mask.png"),
    Param("zoom", "zoom", FloatRange(1.1, 4), f"zoom out (default {OUTPAINT_DEFAULT_ZOOM})", "2"),
    Param("pan", "pan", Choice("left", "right", "up", "down"), "extend the image one way", "left"),
    Param(
        "budget",
        "budget_seconds",
        Budget(1, 30 * 86_400),
        "device-time budget of the campaign",
        "10m",
        assign=_budget_fields,
        read=_budget_values,
    ),
    Param(
        "campaign",
        "campaign",
        CampaignRef(),
        "the campaign meant, for a command typed in a channel",
        "a1b2c3",
        greedy=True,
    ),
)
_ARGS: tuple[Param, ...] = (
    Param("prompt", "prompt", Text(), "what to draw", "a red fox in snow", arity="rest", meta="<prompt>"),
    Param("number", "number", Candidate(), "candidate number", "3"),
    Param("numbers", "numbers", Candidates(), "candidate numbers", "2 5", arity="many"),
    Param("strength", "strength", Choice("subtle", "strong"), "how far the variations move", "strong"),
    Param("scale", "scale", Scale(), "upscale factor", "2"),
    Param("cron", "cron", Cron(), "when to run", '"0 9 * * 1"', arity="cron"),
    Param("id", "schedule_id", ScheduleId(), "schedule id", "a1b2c3"),
    Param("topic", "topic", Topic(), "the command to explain", "draft", arity="rest"),
)
FLAGS: dict[str, Param] = {p.key: p for p in _PARAMS}
ARGS: dict[str, Param] = {p.key: p for p in _ARGS}
