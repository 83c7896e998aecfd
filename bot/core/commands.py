"""Typed commands. Slash-command options and inline ``--flags`` both parse to these (see bot.core.grammar)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from engine.api import LoraSpec

PresetName = Literal["draft", "draft-dpm", "preview", "final"]


class _Cmd(BaseModel):
    model_config = ConfigDict(frozen=True)


class _CampaignCmd(_Cmd):
    """A command about one campaign: typed in its thread, or in a channel with ``--campaign``."""

    campaign: str | None = None  # in a channel: the campaign's short id or words of its title


class Draft(_Cmd):
    """/draft <prompt> [flags]: opens a campaign thread, or starts a new round inside one."""

    name: Literal["draft"] = "draft"
    prompt: str
    n: int | None = None
    aspect: tuple[int, int] | None = None
    negative: str | None = None
    seed: int | None = None
    preset: PresetName | None = None
    model: str | None = None
    steps: int | None = None
    cfg: float | None = None
    loras: tuple[LoraSpec, ...] = ()
    sref: tuple[str, ...] = ()  # image references: attachment names, URLs or artifact keys
    sw: float | None = None
    cref: str | None = None
    image: str | None = None  # init image for img2img (product mockup)
    strength: float | None = None
    sketch: str | None = None  # control image (sketch / line art)
    control: Literal["canny", "lineart"] | None = None
    vote_seconds: int | None = None
    quorum: int | None = None
    top: int | None = None


class Vary(_CampaignCmd):
    name: Literal["vary"] = "vary"
    number: int
    strength: Literal["subtle", "strong"] = "subtle"


class Reroll(_CampaignCmd):
    name: Literal["reroll"] = "reroll"


class Select(_CampaignCmd):
    name: Literal["select"] = "select"
    numbers: tuple[int, ...]


class Refine(_CampaignCmd):
    name: Literal["refine"] = "refine"
    number: int | None = None
    aspect: tuple[int, int] | None = None
    preset: PresetName | None = None


class Inpaint(_CampaignCmd):
    name: Literal["inpaint"] = "inpaint"
    number: int
    prompt: str
    box: tuple[int, int, int, int] | None = None  # pixels of the image
    box_percent: tuple[float, float, float, float] | None = None  # percent of the image's size
    faces: bool = False
    mask: str | None = None  # an uploaded mask image (attachment name, URL or artifact key)


class Outpaint(_CampaignCmd):
    name: Literal["outpaint"] = "outpaint"
    number: int
    zoom: float | None = None
    pan: Literal["left", "right", "up", "down"] | None = None


class Upscale(_CampaignCmd):
    name: Literal["upscale"] = "upscale"
    number: int
    scale: Literal[2, 4] = 4
    faces: bool = False


class Faces(_CampaignCmd):
    name: Literal["faces"] = "faces"
    number: int


class Status(_CampaignCmd):
    name: Literal["status"] = "status"


class Cost(_CampaignCmd):
    name: Literal["cost"] = "cost"


class Deliver(_CampaignCmd):
    """/deliver: the campaign's finals in one zip, with a contact sheet and their lineage."""

    name: Literal["deliver"] = "deliver"


class Cancel(_CampaignCmd):
    name: Literal["cancel"] = "cancel"


class SettingsCmd(_CampaignCmd):
    """/settings [budget 120s|10m|none] [quorum N] [vote 30m] [top K] [n N] [ar W:H] [preset P] [model M]"""

    name: Literal["settings"] = "settings"
    budget_seconds: float | None = None
    clear_budget: bool = False
    quorum: int | None = None
    vote_seconds: int | None = None
    top: int | None = None
    n: int | None = None
    aspect: tuple[int, int] | None = None
    preset: PresetName | None = None
    no_votes: Literal["wait", "scores"] | None = None
    model: str | None = None  # in a thread the campaign's model; in a channel the channel's default


class ScheduleAdd(_Cmd):
    """/schedule add "<cron>" <prompt and draft flags>"""

    name: Literal["schedule_add"] = "schedule_add"
    cron: str
    draft: Draft


class ScheduleList(_Cmd):
    name: Literal["schedule_list"] = "schedule_list"


class ScheduleRemove(_Cmd):
    name: Literal["schedule_remove"] = "schedule_remove"
    schedule_id: str


class Help(_Cmd):
    """/help [command]: the summary of every command, or one command's usage and options."""

    name: Literal["help"] = "help"
    topic: str | None = None  # a command name: "draft", "schedule add"; None for the summary


Command = (
    Draft
    | Vary
    | Reroll
    | Select
    | Refine
    | Inpaint
    | Outpaint
    | Upscale
    | Faces
    | Status
    | Cost
    | Deliver
    | Cancel
    | SettingsCmd
    | ScheduleAdd
    | ScheduleList
    | ScheduleRemove
    | Help
)


class CommandError(BaseModel):
    """The parser's only failure value: one short message naming the flag, allowed values, an example."""

    model_config = ConfigDict(frozen=True)
    message: str
    flag: str | None = None
    example: str | None = None

    def text(self) -> str:
        parts = [self.message]
        if self.example:
            parts.append(f"Example: `{self.example}`")
        return " ".join(parts)


ALL_COMMAND_TYPES: tuple[type[_Cmd], ...] = (
    Draft,
    Vary,
    Reroll,
    Select,
    Refine,
    Inpaint,
    Outpaint,
    Upscale,
    Faces,
    Status,
    Cost,
    Deliver,
    Cancel,
    SettingsCmd,
    ScheduleAdd,
    ScheduleList,
    ScheduleRemove,
    Help,
)

__all__ = ["ALL_COMMAND_TYPES", "Command", "CommandError", "Field", "PresetName"]
