"""What can happen to a campaign: the inputs of ``machine.apply``."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from bot.core.commands import Command
from bot.core.messages import MessageFile
from bot.core.model import ThreadRef, User
from engine.api import Result

# candidate number -> voters as (user id, time of their vote); the earliest vote breaks ties
Tally = dict[int, list[tuple[str, float]]]


class CommandEvent(BaseModel):
    model_config = ConfigDict(frozen=True)
    user: User
    command: Command
    # For a /draft that opens a new campaign: where the campaign will live (the new thread).
    thread: ThreadRef | None = None
    # The engine lane for the jobs the command starts: "scheduled" for a /draft fired by a schedule.
    lane: Literal["interactive", "scheduled"] = "interactive"
    # Where it was typed: the campaign's thread (or a button in it), or a channel (``--campaign``).
    # A /draft that opens a new campaign is typed in the channel.
    place: Literal["thread", "channel"] = "thread"

    @property
    def typed_in(self) -> Literal["thread", "channel"]:
        return "channel" if self.thread is not None else self.place


class ResultEvent(BaseModel):
    model_config = ConfigDict(frozen=True)
    result: Result


class CloseRound(BaseModel):
    """The round's deadline passed or its quorum was reached; the tally comes from Redis."""

    model_config = ConfigDict(frozen=True)
    round_no: int
    reason: str  # "deadline" | "quorum"
    tally: Tally = Field(default_factory=dict)


class Tallied(BaseModel):
    """A vote was given or taken back: the round's votes as Redis now counts them."""

    model_config = ConfigDict(frozen=True)
    round_no: int
    tally: Tally = Field(default_factory=dict)


class Packed(BaseModel):
    """/deliver's zip and contact sheet are in the artifact store: post them in the thread."""

    model_config = ConfigDict(frozen=True)
    user: User
    zip_file: MessageFile
    sheet: MessageFile
    numbers: list[int]


Event = CommandEvent | ResultEvent | CloseRound | Tallied | Packed
