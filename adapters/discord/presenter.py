"""How the bot's neutral messages look on Discord: threads, grids with attachments, reactions and buttons.

``DiscordPresenter`` implements ``bot.ports.Presenter`` for the platform ``"discord"``. It talks to
Discord through the running ``discord.Client`` bound to it and remembers nothing itself.

A text longer than Discord's 2000 characters is posted as several messages, in order. The last of them
carries everything else: the images, the bot's reactions and the buttons (one row per image, from that
image's own buttons). Its id is the one ``post`` returns, so the message people vote on is the one
showing the images, and every caption reads above them. Images that do not fit one message (ten files,
the guild's upload limit: see ``adapters.discord.uploads``) and button rows beyond five follow in
messages of their own. An image whose full file is over the upload limit is shown as a preview with a
link to the full file (``full_file_url``), or with where to get it. Each part is recorded in the post's
log as it goes out, so a retried post resumes where it stopped. A status line is one message on one
line, trimmed to fit; Discord's "wait" (HTTP 429) reaches the caller as ``RateLimited``.

A campaign opened in a forum channel is a forum post (a thread with the prompt as its starter message);
announcement channels are refused with a reason.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import io
import logging
from collections.abc import Awaitable, Callable
from typing import Any, Literal, TypeVar

import discord

from adapters.discord.buttons import ActionButton
from adapters.discord.uploads import Upload, megabytes, plan_uploads
from bot.core.messages import Button, Message, MessageKind
from bot.core.model import ThreadRef
from bot.core.text import chunks, one_line
from bot.ports import Acting, ActingScope, EditBudget, MessageGone, PostLog, RateLimited

log = logging.getLogger(__name__)

PLATFORM = "discord"
MAX_CONTENT = 2000
MAX_FILES = 10
MAX_ROWS = 5
MAX_PER_ROW = 5
THREAD_ARCHIVE_MINUTES: Literal[10080] = 10080  # a week
_MAIN = "main"  # the post's part that people vote on
_UPLOADED = "uploads"  # every image of the post went out
_FORUM_TYPES = frozenset({15, 16})  # forum, media
_ANNOUNCEMENT_TYPES = frozenset({5})
T = TypeVar("T")


class ThreadRefused(Exception):
    """Discord refused to open a thread; the message says why, for the person who asked."""


def button_rows(message: Message) -> list[list[Button]]:
    """One row per image (its own buttons, split at five), then the message's other buttons."""
    rows: list[list[Button]] = []
    for group in [image.buttons for image in message.images] + [message.buttons]:
        for start in range(0, len(group), MAX_PER_ROW):
            rows.append(group[start : start + MAX_PER_ROW])
    return rows


def action_view(rows: list[list[Button]]) -> discord.ui.View:
    view = discord.ui.View(timeout=None)
    for row_no, row in enumerate(rows):
        for button in row:
            view.add_item(ActionButton(button.label, button.action_id, row=row_no))
    return view


def clip(text: str, limit: int = MAX_CONTENT) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def grid_text(message: Message) -> str:
    """The message's text, then each image's caption on its own line, as render wrote it."""
    return "\n".join([message.text] + [image.caption for image in message.images if image.caption])


class DiscordPresenter:
    platform: str = PLATFORM

    edit_budget = EditBudget(edits=4, per_seconds=5.0, scope="thread")  # Discord: ~5 edits / 5 s / channel

    def __init__(self, full_file_url: Callable[[str], str | None] | None = None) -> None:
        """``full_file_url``: a link to an image's full file (by artifact key), for images over the
        upload limit; None when the bot has no public URL."""
        self.full_file_url = full_file_url
        self._client: discord.Client | None = None
        self._read_artifact: Callable[[str], bytes] | None = None
        self._acting = ActingScope("discord_acting")

    def bind(self, client: discord.Client, read_artifact: Callable[[str], bytes]) -> None:
        """Attach the running client (a restarted client binds itself again)."""
        self._client = client
        self._read_artifact = read_artifact

    @property
    def client(self) -> discord.Client:
        if self._client is None:
            raise RuntimeError("the Discord presenter has no client: start DiscordAdapter first")
        return self._client

    def acting(self, user_id: str) -> contextlib.AbstractContextManager[Acting]:
        """Within this block, the threads the service opens are recorded for ``user_id``'s reply."""
        return self._acting.enter(user_id)

    # --- the Presenter protocol ---------------------------------------------------------------------

    async def open_thread(self, channel_id: str, title: str) -> ThreadRef:
        name = clip(" ".join(title.split()) or "campaign", 100)
        kind = await self._channel_type(int(channel_id))
        if kind in _ANNOUNCEMENT_TYPES:
            raise ThreadRefused(
                f"<#{channel_id}> is an announcement channel, where campaign threads would be "
                "announced to every follower. Start the campaign in a text or forum channel instead."
            )
        try:
            if kind in _FORUM_TYPES:  # a forum post: a thread with a starter message
                route = discord.http.Route("POST", "/channels/{channel_id}/threads", channel_id=channel_id)
                body = {
                    "name": name,
                    "auto_archive_duration": THREAD_ARCHIVE_MINUTES,
                    "message": {"content": clip(title.strip() or name), "allowed_mentions": {"parse": []}},
                }
                data: Any = await self.client.http.request(route, json=body)
            else:  # commands arrive as interactions, so there is no message to start the thread from
                data = await self.client.http.start_thread_without_message(
                    int(channel_id), name=name, auto_archive_duration=THREAD_ARCHIVE_MINUTES, type=11
                )
        except discord.Forbidden as exc:
            raise ThreadRefused(
                f"I can't open a campaign thread in <#{channel_id}>: I'm missing a permission there "
                "(Create Public Threads / Create Posts, Send Messages in Threads). Ask a server admin to "
                "grant it, or use a channel where I have it."
            ) from exc
        ref = ThreadRef(platform=PLATFORM, channel_id=str(channel_id), thread_id=str(data["id"]))
        act = self._acting.get()
        if act is not None:
            act.opened.append(ref)
        return ref

    async def post(self, thread: ThreadRef, message: Message, log: PostLog) -> str:
        """Parts, each recorded in ``log`` once sent: ``text:<i>`` (text before the last chunk), ``main``
        (the last chunk with the first images, the buttons and the reactions: the vote target),
        ``files:<k>`` (more images), ``uploads`` (every image is out), ``actions:<k>`` (more button rows),
        ``reaction:<emoji>``. A retry after the images went out neither reads nor encodes them again."""
        channel = self._channel(thread)
        main_id = await log.done(_MAIN)
        if main_id is None or await log.done(_UPLOADED) is None:
            main_id = await self._post_images(thread, channel, message, log)
        rows = button_rows(message)
        for k, start in enumerate(range(MAX_ROWS, len(rows), MAX_ROWS), 1):
            view = action_view(rows[start : start + MAX_ROWS])
            more = functools.partial(channel.send, content="More actions:", view=view)
            await self._part(log, f"actions:{k}", more)
        await self._post_files(thread, channel, message, log)
        main = channel.get_partial_message(int(main_id))
        for emoji in message.reactions:
            if await log.done(f"reaction:{emoji}") is None:
                await self._send(functools.partial(main.add_reaction, emoji))
                await log.record(f"reaction:{emoji}", "1")
        return main_id

    async def _post_images(
        self, thread: ThreadRef, channel: discord.PartialMessageable, message: Message, log: PostLog
    ) -> str:
        """The text, then the main message with the first images, then the other images; the main id."""
        plan = await self._upload_plan(thread, message) if message.kind is MessageKind.GRID else []
        text = "\n".join([grid_text(message), *self._oversize_notes(message, plan)])
        pieces = [piece for piece in chunks(text, MAX_CONTENT) if piece.strip()] or ["\u200b"]
        quiet = discord.AllowedMentions.none()
        for i, piece in enumerate(pieces[:-1]):
            send = functools.partial(channel.send, content=piece, allowed_mentions=quiet)
            await self._part(log, f"text:{i}", send)
        rows = button_rows(message)
        main_id = await log.done(_MAIN)
        if main_id is None:
            sent = await self._send(
                lambda: channel.send(
                    content=pieces[-1],
                    files=_files(plan[0], message) if plan else discord.utils.MISSING,
                    view=action_view(rows[:MAX_ROWS]) if rows else discord.utils.MISSING,
                    allowed_mentions=quiet,
                )
            )
            main_id = str(sent.id)
            await log.record(_MAIN, main_id)
            if message.round_no is not None:
                await log.vote_target(main_id)
        for k, batch in enumerate(plan[1:], 1):
            await self._part(log, f"files:{k}", functools.partial(channel.send, files=_files(batch, message)))
        await log.record(_UPLOADED, str(len(plan)))
        return main_id

    async def _post_files(
        self, thread: ThreadRef, channel: discord.PartialMessageable, message: Message, log: PostLog
    ) -> None:
        """The message's files (a delivery zip, a contact sheet), one upload each (part ``file:<k>``); a
        file over the guild's upload limit is a line saying where the full file is."""
        limit = self.upload_limit(thread)
        for k, file in enumerate(message.files):
            if file.size <= limit and self._read_artifact is not None:
                data = await asyncio.to_thread(self._read_artifact, file.artifact)
                upload = discord.File(io.BytesIO(data), filename=file.name)
                send = functools.partial(channel.send, file=upload)
            else:
                url = self.full_file_url(file.artifact) if self.full_file_url is not None else None
                note = file.over_limit_note(limit, f"<{url}>" if url else None)
                send = functools.partial(
                    channel.send, content=note, allowed_mentions=discord.AllowedMentions.none()
                )
            await self._part(log, f"file:{k}", send)

    async def post_status(self, thread: ThreadRef, text: str) -> str:
        sent = await self._channel(thread).send(
            content=one_line(text, MAX_CONTENT) or "\u200b", allowed_mentions=discord.AllowedMentions.none()
        )
        return str(sent.id)

    async def edit_status(self, thread: ThreadRef, message_id: str, text: str) -> None:
        message = self._channel(thread).get_partial_message(int(message_id))
        try:
            await self._send(lambda: message.edit(content=one_line(text, MAX_CONTENT) or "\u200b"))
        except discord.NotFound as exc:
            raise MessageGone(message_id) from exc

    # --- internals ------------------------------------------------------------------------------------

    def _channel(self, thread: ThreadRef) -> discord.PartialMessageable:
        return self.client.get_partial_messageable(int(thread.thread_id or thread.channel_id))

    async def _part(self, log: PostLog, part: str, send: Callable[[], Awaitable[discord.Message]]) -> None:
        if await log.done(part) is None:
            sent = await self._send(send)
            await log.record(part, str(sent.id))

    @staticmethod
    async def _send(call: Callable[[], Awaitable[T]]) -> T:
        """One API call; Discord's "wait" (HTTP 429, once discord.py's own retries are spent) becomes
        ``RateLimited`` for the caller to retry later."""
        try:
            return await call()
        except discord.RateLimited as exc:
            raise RateLimited(exc.retry_after, "discord") from exc
        except discord.HTTPException as exc:
            if exc.status == 429:
                retry_after = float(exc.response.headers.get("Retry-After") or 1.0)
                raise RateLimited(retry_after, "discord") from exc
            raise

    async def _channel_type(self, channel_id: int) -> int | None:
        channel = self.client.get_channel(channel_id)
        if channel is None:
            try:
                channel = await self.client.fetch_channel(channel_id)
            except discord.HTTPException:
                return None
        return getattr(getattr(channel, "type", None), "value", None)

    def upload_limit(self, thread: ThreadRef) -> int:
        """The guild's upload limit for the thread (Discord's default when the guild is not known)."""
        for channel_id in (thread.thread_id, thread.channel_id):
            channel = self.client.get_channel(int(channel_id)) if channel_id else None
            guild = getattr(channel, "guild", None)
            if guild is not None:
                return int(guild.filesize_limit)
        if len(self.client.guilds) == 1:
            return int(self.client.guilds[0].filesize_limit)
        return discord.utils.DEFAULT_FILE_SIZE_LIMIT_BYTES

    async def _upload_plan(self, thread: ThreadRef, message: Message) -> list[list[Upload]]:
        read = self._read_artifact
        if read is None:
            raise RuntimeError("the Discord presenter cannot read images: start DiscordAdapter first")
        images = [(image.number, read(image.artifact)) for image in message.images]
        return await asyncio.to_thread(plan_uploads, images, self.upload_limit(thread))

    def _oversize_notes(self, message: Message, plan: list[list[Upload]]) -> list[str]:
        artifacts = {image.number: image.artifact for image in message.images}
        notes = []
        for upload in (u for batch in plan for u in batch if u.oversize):
            artifact = artifacts[upload.number]
            what = f"#{upload.number} is shown as a preview: its full file ({megabytes(upload.full_bytes)})"
            what += " is over this server's upload limit."
            url = self.full_file_url(artifact) if self.full_file_url is not None else None
            if url:
                notes.append(f"{what} Full file: <{url}>")
            else:
                notes.append(
                    f"{what} The bot keeps it as `{artifact}`: download it from the bot's web app at "
                    f"/artifacts/{artifact} (a public URL in the bot's settings puts a link here)."
                )
        return notes


def _files(batch: list[Upload], message: Message) -> list[discord.File]:
    captions = {image.number: image.caption for image in message.images}
    return [
        discord.File(
            io.BytesIO(upload.data),
            filename=upload.filename,
            description=clip(captions.get(upload.number) or f"#{upload.number}", 1000),
        )
        for upload in batch
    ]
