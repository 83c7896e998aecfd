"""The neutral message model: what an adapter must show, with no platform types."""

from __future__ import annotations

import enum

from pydantic import BaseModel, ConfigDict, Field

NUMBER_EMOJI: tuple[str, ...] = ("1️⃣", "2️⃣", "3️⃣", "4️⃣", "5️⃣", "6️⃣", "7️⃣", "8️⃣", "9️⃣", "🔟")


class MessageKind(enum.StrEnum):
    TEXT = "text"
    GRID = "grid"  # candidates to vote on or act on
    STATUS = "status"  # the one status line an adapter edits in place


class Button(BaseModel):
    """A button's action id carries all the state it needs: ``dl:<action>:<campaign>:<number>[:arg]``."""

    model_config = ConfigDict(frozen=True)
    label: str
    action_id: str


class GridImage(BaseModel):
    model_config = ConfigDict(frozen=True)
    number: int  # campaign-wide candidate number
    artifact: str
    caption: str = ""  # the finished caption, starting with "#<number>": presenters show it verbatim
    width: int = 0
    height: int = 0
    buttons: list[Button] = Field(default_factory=list)  # the actions on this image, in order


class Message(BaseModel):
    model_config = ConfigDict(frozen=True)
    kind: MessageKind
    campaign_id: str
    text: str
    images: list[GridImage] = Field(default_factory=list)
    reactions: list[str] = Field(default_factory=list)  # to seed under the message, in order
    buttons: list[Button] = Field(default_factory=list)  # actions not tied to one image
    round_no: int | None = None  # set on a voting grid: reactions on it are votes on this round
