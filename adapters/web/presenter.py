"""The web playground as a chat platform: channels, threads, messages and reactions.

Discord and Slack keep their own message history; the playground is its own platform, so this module
plays that part. State is kept in memory and written to one JSON file under the data directory (about
once a second while it changes, and on shutdown), so a restarted ``draftloop up`` shows the same
channels and threads. Campaign state never lives here: it is in Redis, behind the service. Losing the
file loses only the chat history of the playground, not a campaign.

``WebPresenter`` implements ``bot.ports.Presenter`` for the platform ``"web"``.
"""

from __future__ import annotations

import contextlib
import logging
import os
import secrets
import tempfile
import time
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field, ValidationError

from adapters.web.events import EventHub
from bot.core.messages import Message, MessageKind
from bot.core.model import ThreadRef
from bot.ports import Acting, ActingScope

log = logging.getLogger(__name__)

PLATFORM = "web"
BOT_AUTHOR = "draftloop"
DEFAULT_CHANNELS: tuple[tuple[str, str, str], ...] = (
    ("general", "general", "Anything goes: type /draft <prompt> to start a campaign"),
    ("marketing", "marketing", "Campaign visuals for launches and ads"),
)
MAX_MESSAGES_PER_LOG = 1000
STATE_VERSION = 1


class WebImage(BaseModel):
    number: int
    artifact: str
    caption: str = ""
    width: int = 0
    height: int = 0


class WebButton(BaseModel):
    label: str
    action_id: str


class WebMessage(BaseModel):
    id: str
    channel_id: str
    thread_id: str | None = None  # None: a channel-level message
    kind: str  # MessageKind values, plus "user" (what a person typed) and "thread" (a thread's root)
    author: str = BOT_AUTHOR
    text: str = ""
    images: list[WebImage] = Field(default_factory=list)
    # emoji -> ids of the people who reacted, in the order the bot seeded them (its own never count)
    reactions: dict[str, list[str]] = Field(default_factory=dict)
    buttons: list[WebButton] = Field(default_factory=list)
    round_no: int | None = None
    campaign_id: str = ""
    visible_to: str | None = None  # set: an ephemeral message only this user sees
    link_thread: str | None = None  # a thread's root message points at the thread
    attachments: list[str] = Field(default_factory=list)
    at: float = 0.0
    edited_at: float | None = None


class WebThread(BaseModel):
    id: str
    channel_id: str
    title: str
    created_at: float
    created_by: str = BOT_AUTHOR
    root_message_id: str | None = None
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
    statuses: dict[str, str] = Field(default_factory=dict)  # "thread:campaign" -> message id


_acting = ActingScope("draftloop_web_acting")


def location(channel_id: str, thread_id: str | None) -> str:
    return f"{channel_id}/{thread_id or ''}"


def message_json(msg: WebMessage) -> dict[str, Any]:
    """What the page and the JSON API see of a message."""
    data = msg.model_dump()
    for image in data["images"]:
        image["url"] = f"/artifacts/{image['artifact']}"
    data["reactions"] = [{"emoji": e, "users": list(users)} for e, users in msg.reactions.items()]
    return data


class WebPresenter:
    """The playground's channels, threads and message log; the service posts through it."""

    platform: str = PLATFORM

    def __init__(self, state_path: Path | None = None, hub: EventHub | None = None) -> None:
        self.state_path = Path(state_path) if state_path is not None else None
        self.hub = hub or EventHub()
        self.state = self._load()
        for cid, name, topic in DEFAULT_CHANNELS:
            self.state.channels.setdefault(cid, WebChannel(id=cid, name=name, topic=topic))
        self._dirty = False

    # --- persistence ---------------------------------------------------------------------------------

    def _load(self) -> PlaygroundState:
        if self.state_path is None or not self.state_path.exists():
            return PlaygroundState()
        try:
            state = PlaygroundState.model_validate_json(self.state_path.read_bytes())
        except (OSError, ValidationError, ValueError) as exc:
            backup = self.state_path.with_suffix(".unreadable.json")
            log.warning(
                "playground history %s is unreadable (%s); starting fresh, kept it as %s",
                self.state_path,
                exc,
                backup,
            )
            with contextlib.suppress(OSError):
                os.replace(self.state_path, backup)
            return PlaygroundState()
        return state

    @property
    def dirty(self) -> bool:
        return self._dirty

    def snapshot(self) -> bytes:
        """The history as JSON; taken on the event loop, so no post changes it half-way."""
        self._dirty = False
        return self.state.model_dump_json().encode()

    def save(self) -> None:
        """Write the history file atomically (no-op without a state path)."""
        self.write(self.snapshot())

    def write(self, data: bytes) -> None:
        """Write a snapshot; safe to run in a worker thread."""
        if self.state_path is None:
            return
        self.state_path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=self.state_path.parent, prefix=".playground-", suffix=".part")
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(data)
            os.replace(tmp, self.state_path)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise

    def _touch(self) -> None:
        self._dirty = True

    # --- who is acting ------------------------------------------------------------------------------

    def acting(self, user: str) -> contextlib.AbstractContextManager[Acting]:
        """Within this block, ephemeral posts go to ``user`` and opened threads are recorded."""
        return _acting.enter(user)

    # --- the Presenter protocol ---------------------------------------------------------------------

    async def open_thread(self, channel_id: str, title: str, source_message_id: str | None) -> ThreadRef:
        act = _acting.get()
        channel = self.ensure_channel(channel_id)
        thread = WebThread(
            id="t" + secrets.token_hex(5),
            channel_id=channel.id,
            title=(title.strip() or "campaign")[:120],
            created_at=time.time(),
            created_by=act.user if act else BOT_AUTHOR,
        )
        self.state.threads[thread.id] = thread
        self.hub.publish("thread", self.thread_json(thread))
        root = self._append(
            WebMessage(
                id=self._new_id(),
                channel_id=channel.id,
                kind="thread",
                author=thread.created_by,
                text=thread.title,
                link_thread=thread.id,
                at=thread.created_at,
            )
        )
        thread.root_message_id = root.id
        ref = ThreadRef(platform=PLATFORM, channel_id=channel.id, thread_id=thread.id)
        if act is not None:
            act.opened.append(ref)
        return ref

    async def post(self, thread: ThreadRef, message: Message) -> str:
        rec = self._thread_for(thread, message.campaign_id)
        act = _acting.get()
        private = message.ephemeral or message.kind is MessageKind.ERROR
        msg = WebMessage(
            id=self._new_id(),
            channel_id=rec.channel_id,
            thread_id=rec.id,
            kind=message.kind.value,
            text=message.text,
            images=[WebImage(**img.model_dump()) for img in message.images],
            reactions={emoji: [] for emoji in message.reactions},
            buttons=[WebButton(label=b.label, action_id=b.action_id) for b in message.buttons],
            round_no=message.round_no,
            campaign_id=message.campaign_id,
            visible_to=act.user if (private and act is not None) else None,
            at=time.time(),
        )
        self._append(msg)
        return msg.id

    async def update_status(self, thread: ThreadRef, campaign_id: str, text: str) -> None:
        rec = self._thread_for(thread, campaign_id)
        key = f"{rec.id}:{campaign_id}"
        existing = self.state.messages.get(self.state.statuses.get(key, ""))
        if existing is None:
            msg = WebMessage(
                id=self._new_id(),
                channel_id=rec.channel_id,
                thread_id=rec.id,
                kind=MessageKind.STATUS.value,
                text=text,
                campaign_id=campaign_id,
                at=time.time(),
            )
            self.state.statuses[key] = msg.id
            self._append(msg)
            return
        if existing.text == text:
            return
        existing.text = text
        existing.edited_at = time.time()
        self._touch()
        self.hub.publish("message", message_json(existing))

    # --- what people do -----------------------------------------------------------------------------

    def add_user_message(
        self,
        channel_id: str,
        thread_id: str | None,
        user: str,
        text: str,
        attachments: list[str],
        visible_to: str | None,
    ) -> WebMessage:
        return self._append(
            WebMessage(
                id=self._new_id(),
                channel_id=channel_id,
                thread_id=thread_id,
                kind="user",
                author=user,
                text=text,
                attachments=attachments,
                visible_to=visible_to,
                at=time.time(),
            )
        )

    def add_reply(self, channel_id: str, thread_id: str | None, user: str, text: str) -> WebMessage:
        """The bot's answer to one person, which only they see."""
        return self._append(
            WebMessage(
                id=self._new_id(),
                channel_id=channel_id,
                thread_id=thread_id,
                kind=MessageKind.ERROR.value,
                text=text,
                visible_to=user,
                at=time.time(),
            )
        )

    def set_reaction(self, message_id: str, emoji: str, user: str, added: bool) -> bool:
        """Add or remove one person's reaction; returns whether anything changed."""
        msg = self.state.messages[message_id]
        users = msg.reactions.setdefault(emoji, [])
        if added == (user in users):
            return False
        if added:
            users.append(user)
        else:
            users.remove(user)
        self._touch()
        self.hub.publish(
            "reactions",
            {"id": msg.id, "reactions": message_json(msg)["reactions"]},
            visible_to=msg.visible_to,
        )
        return True

    def ensure_channel(self, channel_id: str, name: str | None = None) -> WebChannel:
        channel = self.state.channels.get(channel_id)
        if channel is None:
            channel = WebChannel(id=channel_id, name=name or channel_id)
            self.state.channels[channel_id] = channel
            self._touch()
            self.hub.publish("channel", channel.model_dump())
        return channel

    # --- reading --------------------------------------------------------------------------------------

    def message(self, message_id: str) -> WebMessage | None:
        return self.state.messages.get(message_id)

    def thread(self, thread_id: str) -> WebThread | None:
        return self.state.threads.get(thread_id)

    def threads_in(self, channel_id: str) -> list[WebThread]:
        found = [t for t in self.state.threads.values() if t.channel_id == channel_id]
        return sorted(found, key=lambda t: t.created_at, reverse=True)

    def messages(
        self, channel_id: str, thread_id: str | None, user: str, limit: int = 200
    ) -> list[WebMessage]:
        ids = self.state.logs.get(location(channel_id, thread_id), [])
        out = [self.state.messages[i] for i in ids if i in self.state.messages]
        visible = [m for m in out if m.visible_to is None or m.visible_to == user]
        return visible[-limit:]

    def thread_json(self, thread: WebThread) -> dict[str, Any]:
        return thread.model_dump()

    # --- internals -------------------------------------------------------------------------------------

    def _new_id(self) -> str:
        return "m" + secrets.token_hex(6)

    def _append(self, msg: WebMessage) -> WebMessage:
        self.state.messages[msg.id] = msg
        log_ids = self.state.logs.setdefault(location(msg.channel_id, msg.thread_id), [])
        log_ids.append(msg.id)
        if len(log_ids) > MAX_MESSAGES_PER_LOG:
            for old in log_ids[:-MAX_MESSAGES_PER_LOG]:
                self.state.messages.pop(old, None)
            del log_ids[:-MAX_MESSAGES_PER_LOG]
        self._touch()
        self.hub.publish("message", message_json(msg), visible_to=msg.visible_to)
        return msg

    def _thread_for(self, ref: ThreadRef, campaign_id: str) -> WebThread:
        """The thread a service post goes to; one the history lost (file removed) is made again."""
        rec = self.state.threads.get(ref.thread_id)
        if rec is None:
            self.ensure_channel(ref.channel_id)
            rec = WebThread(
                id=ref.thread_id,
                channel_id=ref.channel_id,
                title=f"campaign {campaign_id}".strip(),
                created_at=time.time(),
            )
            self.state.threads[rec.id] = rec
            self._touch()
            self.hub.publish("thread", self.thread_json(rec))
        if campaign_id and rec.campaign_id != campaign_id:
            rec.campaign_id = campaign_id
            self._touch()
            self.hub.publish("thread", self.thread_json(rec))
        return rec
