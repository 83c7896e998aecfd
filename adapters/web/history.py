"""The playground's own platform state (channels, threads, the message log) and the file it is kept in.

The state lives in memory and is written to one JSON file under the data directory: about once a second
while it changes (``HistoryWriter``) and on shutdown. Campaign state never lives here: it is in Redis,
behind the service. Losing the file loses only the playground's chat history, not a campaign.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import tempfile
from collections.abc import Callable
from pathlib import Path

from pydantic import BaseModel, Field, ValidationError

log = logging.getLogger(__name__)

BOT_AUTHOR = "draftloop"
STATE_VERSION = 1
SAVE_INTERVAL = 1.0


class WebButton(BaseModel):
    label: str
    action_id: str


class WebImage(BaseModel):
    number: int
    artifact: str
    caption: str = ""  # the finished caption ("#3 · seed … "), shown as it is
    width: int = 0
    height: int = 0
    buttons: list[WebButton] = Field(default_factory=list)  # the actions on this one image


class WebFile(BaseModel):
    """A file attached by the bot (a delivery zip, a contact sheet), served from the artifact store."""

    name: str
    artifact: str
    size: int = 0
    media_type: str = "application/octet-stream"


class WebMessage(BaseModel):
    id: str
    channel_id: str
    thread_id: str | None = None  # None: a channel-level message
    # MessageKind values, plus "user" (what a person typed), "thread" (a thread's root) and "reply"
    # (the bot's answer to one person)
    kind: str
    author: str = BOT_AUTHOR
    text: str = ""
    images: list[WebImage] = Field(default_factory=list)
    # emoji -> ids of the people who reacted, in the order the bot seeded them (its own never count)
    reactions: dict[str, list[str]] = Field(default_factory=dict)
    buttons: list[WebButton] = Field(default_factory=list)  # actions not tied to one image
    round_no: int | None = None
    campaign_id: str = ""
    visible_to: str | None = None  # set: a message only this user sees
    link_thread: str | None = None  # a thread's root message points at the thread
    attachments: list[str] = Field(default_factory=list)
    files: list[WebFile] = Field(default_factory=list)
    at: float = 0.0
    edited_at: float | None = None


class WebThread(BaseModel):
    id: str
    channel_id: str
    title: str
    created_at: float
    created_by: str = BOT_AUTHOR
    root_message_id: str | None = None
    source_message_id: str | None = None  # the typed message that opened it
    campaign_id: str = ""


class WebChannel(BaseModel):
    id: str
    name: str
    topic: str = ""


class PlaygroundState(BaseModel):
    version: int = STATE_VERSION
    channels: dict[str, WebChannel] = Field(default_factory=dict)
    threads: dict[str, WebThread] = Field(default_factory=dict)
    messages: dict[str, WebMessage] = Field(default_factory=dict)
    logs: dict[str, list[str]] = Field(default_factory=dict)  # location -> message ids, oldest first


def load_state(path: Path | None) -> PlaygroundState:
    """The saved history, or a fresh one; an unreadable file is set aside next to it, not lost."""
    if path is None or not path.exists():
        return PlaygroundState()
    try:
        return PlaygroundState.model_validate_json(path.read_bytes())
    except (OSError, ValidationError, ValueError) as exc:
        backup = path.with_suffix(".unreadable.json")
        log.warning(
            "playground history %s is unreadable (%s); starting fresh, kept it as %s", path, exc, backup
        )
        with contextlib.suppress(OSError):
            os.replace(path, backup)
        return PlaygroundState()


def write_state(path: Path, data: bytes) -> None:
    """Write a snapshot atomically (a temporary file, then a rename); safe to run in a worker thread."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".playground-", suffix=".part")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


class HistoryWriter:
    """Saves the history about once a second while it changes; no error stops it.

    A failed save is logged once (not once a second) and retried on every tick, the state staying marked
    unsaved; the first save that works again says so in the log.
    """

    def __init__(
        self,
        is_dirty: Callable[[], bool],
        snapshot: Callable[[], bytes],
        write: Callable[[bytes], None],
        mark_dirty: Callable[[], None],
        interval: float = SAVE_INTERVAL,
    ) -> None:
        self._is_dirty = is_dirty
        self._snapshot = snapshot
        self._write = write
        self._mark_dirty = mark_dirty
        self.interval = interval
        self.failing = False
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._run())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def flush(self) -> bool:
        """Save now if anything changed; True when the history on disk is current."""
        if not self._is_dirty():
            return True
        try:
            data = self._snapshot()  # on the event loop, so no post changes it half-way
            await asyncio.to_thread(self._write, data)
        except Exception as exc:
            self._mark_dirty()
            if not self.failing:
                self.failing = True
                log.error(
                    "could not save the playground history (%s: %s); it stays in memory, retrying every %gs",
                    type(exc).__name__,
                    exc,
                    self.interval,
                )
            return False
        if self.failing:
            self.failing = False
            log.warning("the playground history is saved again")
        return True

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self.interval)
            await self.flush()
