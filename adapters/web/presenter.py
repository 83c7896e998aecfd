"""The web playground as a chat platform: channels, threads, messages and reactions.

Discord and Slack keep their own message history; the playground is its own platform, so this module
plays that part over the state in ``adapters.web.history``. ``WebPresenter`` implements
``bot.ports.Presenter`` for the platform ``"web"``.
"""

from __future__ import annotations

import contextlib
import secrets
import time
from pathlib import Path
from typing import Any
from urllib.parse import quote

from adapters.web.events import EventHub
from adapters.web.history import (
    BOT_AUTHOR,
    WebButton,
    WebChannel,
    WebFile,
    WebImage,
    WebMessage,
    WebThread,
    load_state,
    write_state,
)
from bot.core.messages import Button, Message, MessageKind
from bot.core.model import ThreadRef
from bot.ports import Acting, ActingScope, EditBudget, MessageGone, PostLog

PLATFORM = "web"
DEFAULT_CHANNELS: tuple[tuple[str, str, str], ...] = (
    ("general", "general", "Anything goes: type /draft <prompt> to start a campaign"),
    ("marketing", "marketing", "Campaign visuals for launches and ads"),
)
MAX_MESSAGES_PER_LOG = 1000
REPLY_KIND = "reply"  # the bot's answer to the one person who acted
MESSAGE_PART = "message"  # the one part of a post (see bot.ports.PostLog)

_acting = ActingScope("draftloop_web_acting")


def location(channel_id: str, thread_id: str | None) -> str:
    return f"{channel_id}/{thread_id or ''}"


def message_json(msg: WebMessage) -> dict[str, Any]:
    """What the page and the JSON API see of a message."""
    data = msg.model_dump()
    for image in data["images"]:
        image["url"] = f"/artifacts/{image['artifact']}"
        image["download_url"] = f"/artifacts/{image['artifact']}?name=draftloop-{image['number']}.png"
    for file in data["files"]:
        file["url"] = f"/artifacts/{file['artifact']}?name={quote(file['name'])}"
    data["reactions"] = [{"emoji": e, "users": list(users)} for e, users in msg.reactions.items()]
    return data


def _buttons(buttons: list[Button]) -> list[WebButton]:
    return [WebButton(label=b.label, action_id=b.action_id) for b in buttons]


class WebPresenter:
    """The playground's channels, threads and message log; the service posts through it."""

    platform: str = PLATFORM
    edit_budget = EditBudget(edits=10, per_seconds=1.0, scope="thread")  # the page has no limit of its own

    def __init__(self, state_path: Path | None = None, hub: EventHub | None = None) -> None:
        self.state_path = Path(state_path) if state_path is not None else None
        self.hub = hub or EventHub()
        self.state = load_state(self.state_path)
        for cid, name, topic in DEFAULT_CHANNELS:
            self.state.channels.setdefault(cid, WebChannel(id=cid, name=name, topic=topic))
        self._dirty = False

    # --- persistence ---------------------------------------------------------------------------------

    @property
    def dirty(self) -> bool:
        return self._dirty

    def mark_dirty(self) -> None:
        self._dirty = True

    def snapshot(self) -> bytes:
        """The history as JSON, marked saved; call ``mark_dirty`` again if writing it fails."""
        data = self.state.model_dump_json().encode()
        self._dirty = False
        return data

    def save(self) -> None:
        """Write the history file atomically (no-op without a state path)."""
        self.write(self.snapshot())

    def write(self, data: bytes) -> None:
        if self.state_path is not None:
            write_state(self.state_path, data)

    # --- who is acting ------------------------------------------------------------------------------

    def acting(self, user: str) -> contextlib.AbstractContextManager[Acting]:
        """Within this block, threads opened are recorded as opened by ``user``."""
        return _acting.enter(user)

    # --- the Presenter protocol ---------------------------------------------------------------------

    async def open_thread(self, channel_id: str, title: str) -> ThreadRef:
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

    async def post(self, thread: ThreadRef, message: Message, log: PostLog) -> str:
        """One message carries the text, the images and the reactions, so it is the post's one part."""
        shown = await log.done(MESSAGE_PART)
        if shown is not None and shown in self.state.messages:
            return shown
        rec = self._thread_for(thread, message.campaign_id)
        msg = WebMessage(
            id=self._new_id(),
            channel_id=rec.channel_id,
            thread_id=rec.id,
            kind=message.kind.value,
            text=message.text,
            images=[
                WebImage(
                    number=img.number,
                    artifact=img.artifact,
                    caption=img.caption,
                    width=img.width,
                    height=img.height,
                    buttons=_buttons(img.buttons),
                )
                for img in message.images
            ],
            reactions={emoji: [] for emoji in message.reactions},
            buttons=_buttons(message.buttons),
            files=[
                WebFile(name=f.name, artifact=f.artifact, size=f.size, media_type=f.media_type)
                for f in message.files
            ],
            round_no=message.round_no,
            campaign_id=message.campaign_id,
            at=time.time(),
        )
        self._append(msg)
        await log.record(MESSAGE_PART, msg.id)
        if message.round_no is not None:
            await log.vote_target(msg.id)
        return msg.id

    async def post_status(self, thread: ThreadRef, text: str) -> str:
        rec = self._thread_for(thread, "")
        msg = WebMessage(
            id=self._new_id(),
            channel_id=rec.channel_id,
            thread_id=rec.id,
            kind=MessageKind.STATUS.value,
            text=text,
            campaign_id=rec.campaign_id,
            at=time.time(),
        )
        self._append(msg)
        return msg.id

    async def edit_status(self, thread: ThreadRef, message_id: str, text: str) -> None:
        existing = self.state.messages.get(message_id)
        if existing is None or existing.thread_id != thread.thread_id:
            raise MessageGone(f"no status message {message_id} in thread {thread.thread_id}")
        if existing.text == text:
            return
        existing.text = text
        existing.edited_at = time.time()
        self.mark_dirty()
        self.hub.publish("message", message_json(existing), visible_to=existing.visible_to)

    # --- what people do -----------------------------------------------------------------------------

    def add_user_message(
        self,
        message_id: str | None,
        channel_id: str,
        thread_id: str | None,
        user: str,
        text: str,
        attachments: list[str],
        visible_to: str | None,
    ) -> WebMessage:
        """What a person typed; a message with ``message_id`` already shown is shown once, where it is now."""
        return self._append(
            WebMessage(
                id=message_id or self._new_id(),
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
                kind=REPLY_KIND,
                text=text,
                visible_to=user,
                at=time.time(),
            )
        )

    def set_reaction(self, message_id: str, emoji: str, user: str, added: bool) -> bool:
        """Show or take back one person's reaction; returns whether anything changed."""
        msg = self.state.messages.get(message_id)
        if msg is None:  # a message the page no longer holds (its thread was removed)
            return False
        users = msg.reactions.setdefault(emoji, [])
        if added == (user in users):
            return False
        if added:
            users.append(user)
        else:
            users.remove(user)
        self.mark_dirty()
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
            self.mark_dirty()
            self.hub.publish("channel", channel.model_dump())
        return channel

    def set_thread_source(self, thread_id: str, message_id: str) -> None:
        """Record the typed message that opened a thread (a platform's "thread started from")."""
        thread = self.state.threads.get(thread_id)
        if thread is not None and thread.source_message_id != message_id:
            thread.source_message_id = message_id
            self.mark_dirty()

    def drop_empty_thread(self, thread_id: str) -> bool:
        """Take back a thread nothing was posted in (the command that opened it failed)."""
        thread = self.state.threads.get(thread_id)
        if thread is None or self.state.logs.get(location(thread.channel_id, thread_id)):
            return False
        del self.state.threads[thread_id]
        self.state.logs.pop(location(thread.channel_id, thread_id), None)
        if thread.root_message_id is not None:
            root = self.state.messages.pop(thread.root_message_id, None)
            if root is not None:
                self._unlink(root)
        self.mark_dirty()
        self.hub.publish("channel", self.state.channels[thread.channel_id].model_dump())
        return True

    # --- reading --------------------------------------------------------------------------------------

    def message(self, message_id: str) -> WebMessage | None:
        return self.state.messages.get(message_id)

    def thread(self, thread_id: str) -> WebThread | None:
        return self.state.threads.get(thread_id)

    def thread_opened_by(self, message_id: str) -> WebThread | None:
        for thread in self.state.threads.values():
            if thread.source_message_id == message_id:
                return thread
        return None

    def threads_in(self, channel_id: str) -> list[WebThread]:
        found = [t for t in self.state.threads.values() if t.channel_id == channel_id]
        return sorted(found, key=lambda t: t.created_at, reverse=True)

    def messages(
        self, channel_id: str, thread_id: str | None, user: str, limit: int = 200
    ) -> list[WebMessage]:
        """A location's log as ``user`` sees it; a thread opens with the typed message that started it,
        as a chat platform shows a thread's parent above its replies."""
        ids = self.state.logs.get(location(channel_id, thread_id), [])
        out = [self.state.messages[i] for i in ids if i in self.state.messages]
        visible = [m for m in out if m.visible_to is None or m.visible_to == user][-limit:]
        thread = self.state.threads.get(thread_id) if thread_id is not None else None
        source = self.state.messages.get(thread.source_message_id or "") if thread is not None else None
        if source is not None and source.visible_to in (None, user) and source not in visible:
            visible.insert(0, source)
        return visible

    def thread_json(self, thread: WebThread) -> dict[str, Any]:
        return thread.model_dump()

    # --- internals -------------------------------------------------------------------------------------

    def _new_id(self) -> str:
        return "m" + secrets.token_hex(6)

    def _unlink(self, msg: WebMessage) -> None:
        ids = self.state.logs.get(location(msg.channel_id, msg.thread_id), [])
        if msg.id in ids:
            ids.remove(msg.id)

    def _append(self, msg: WebMessage) -> WebMessage:
        previous = self.state.messages.get(msg.id)
        if previous is not None:
            self._unlink(previous)
        self.state.messages[msg.id] = msg
        log_ids = self.state.logs.setdefault(location(msg.channel_id, msg.thread_id), [])
        log_ids.append(msg.id)
        if len(log_ids) > MAX_MESSAGES_PER_LOG:
            for old in log_ids[:-MAX_MESSAGES_PER_LOG]:
                self.state.messages.pop(old, None)
            del log_ids[:-MAX_MESSAGES_PER_LOG]
        self.mark_dirty()
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
            self.mark_dirty()
            self.hub.publish("thread", self.thread_json(rec))
        if campaign_id and rec.campaign_id != campaign_id:
            rec.campaign_id = campaign_id
            self.mark_dirty()
            self.hub.publish("thread", self.thread_json(rec))
        return rec
