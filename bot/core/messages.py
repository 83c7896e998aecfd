"""The neutral message model: what an adapter must show, with no platform types."""

from __future__ import annotations

import enum

from pydantic import BaseModel, ConfigDict, Field

NUMBER_EMOJI: tuple[str, ...] = ("1️⃣", "2️⃣", "3️⃣", "4️⃣", "5️⃣", "6️⃣", "7️⃣", "8️⃣", "9️⃣", "🔟")
# a round's images are shown as grids of at most this many, each with its own number reactions
GRID_SIZE = len(NUMBER_EMOJI)


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


class MessageFile(BaseModel):
    """A file to attach (a delivery zip, a contact sheet), kept in the artifact store by content key.

    A presenter uploads it when ``size`` is within its platform's upload limit, and otherwise says where
    the full file is (``over_limit_note``)."""

    model_config = ConfigDict(frozen=True)
    name: str  # the file name people see: "lighthouse-c1a2b3-finals.zip"
    artifact: str
    size: int
    media_type: str = "application/octet-stream"

    def over_limit_note(self, limit: int, url: str | None) -> str:
        """The line that replaces the upload when the file is over ``limit`` bytes."""
        size, most = f"{self.size / 2**20:.1f} MiB", f"{limit / 2**20:.0f} MiB"
        what = f"{self.name} ({size}) is over this channel's upload limit ({most})."
        if url:
            return f"{what} Full file: {url}"
        return f"{what} Download it from the bot's web app at /artifacts/{self.artifact}?name={self.name}"


class Message(BaseModel):
    model_config = ConfigDict(frozen=True)
    kind: MessageKind
    campaign_id: str
    text: str
    images: list[GridImage] = Field(default_factory=list)
    reactions: list[str] = Field(default_factory=list)  # to seed under the message, in order
    buttons: list[Button] = Field(default_factory=list)  # actions not tied to one image
    round_no: int | None = None  # set on a voting grid: reactions on it are votes on this round
    files: list[MessageFile] = Field(default_factory=list)  # attachments that are not candidates
    # which grid of the round this is (0: its first ten images, 1: the next ten...); reaction N on it
    # votes for the round's image at position grid_index * GRID_SIZE + N - 1
    grid_index: int = 0
