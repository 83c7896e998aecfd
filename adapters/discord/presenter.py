"""How the bot's neutral messages look on Discord: threads, grids with attachments, reactions and buttons.

``DiscordPresenter`` implements ``bot.ports.Presenter`` for the platform ``"discord"``. It talks to
Discord through the running ``discord.Client`` that ``DiscordAdapter`` binds to it; everything it must
remember (the status message of each campaign) is kept in Redis, so any replica can edit it.

A text longer than Discord's 2000 characters is posted as several messages, in order (``chunks``). The
last of them carries everything else: the images, the bot's reactions and the buttons. Its id is the one
``post`` returns, so the message people vote on is the one showing the images, and every caption reads
above them. Images beyond ten and button rows beyond five follow in messages of their own, as before.
The status line is one message edited in place: it is kept to one line and trimmed to fit.
"""

from __future__ import annotations

import contextlib
import contextvars
import io
import logging
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

import discord
from redis.asyncio import Redis

from bot.core.buttons import parse_action_id
from bot.core.messages import Button, Message, MessageKind
from bot.core.model import ThreadRef
from bot.state import keys
from bot.state.codec import as_str

if TYPE_CHECKING:
    from adapters.discord.client import DiscordAdapter

log = logging.getLogger(__name__)

PLATFORM = "discord"
MAX_CONTENT = 2000
MAX_FILES = 10
MAX_ROWS = 5
MAX_PER_ROW = 5
THREAD_ARCHIVE_MINUTES: Literal[10080] = 10080  # a week
# ``dl:<action>:<campaign>:<number>[:arg]``, at most 100 characters (Discord's limit for a custom id)
ACTION_TEMPLATE = (
    r"dl:(?P<action>[a-z][a-z0-9-]*):(?P<campaign>[A-Za-z0-9_-]+):(?P<number>\d+)(?::(?P<arg>[^:]+))?"
)


class ActionButton(discord.ui.DynamicItem[discord.ui.Button[Any]], template=ACTION_TEMPLATE):
    """A button whose custom id is an action id; it works for any message, after any restart."""

    def __init__(self, label: str, action_id: str, row: int | None = None) -> None:
        super().__init__(
            discord.ui.Button(label=label[:80], custom_id=action_id, style=discord.ButtonStyle.secondary),
            row=row,
        )
        self.action_id = action_id

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction[Any], item: discord.ui.Item[Any], match: re.Match[str], /
    ) -> ActionButton:
        label = getattr(item, "label", None) or match["action"]
        return cls(label, match.string)

    async def callback(self, interaction: discord.Interaction[Any]) -> None:
        handler = getattr(interaction.client, "on_action_button", None)
        if handler is not None:
            await handler(interaction, self.action_id)


class ThreadRefused(Exception):
    """Discord refused to open a thread; the message says why, for the person who asked."""


@dataclass
class Acting:
    """Threads opened while handling one person's command, so the reply can point at them."""

    opened: list[ThreadRef] = field(default_factory=list)


_acting: contextvars.ContextVar[Acting | None] = contextvars.ContextVar(
    "draftloop_discord_acting", default=None
)


@contextlib.contextmanager
def acting() -> Iterator[Acting]:
    act = Acting()
    token = _acting.set(act)
    try:
        yield act
    finally:
        _acting.reset(token)


def button_rows(buttons: list[Button]) -> list[list[Button]]:
    """One row per candidate (split at five), in the order given."""
    rows: list[list[Button]] = []
    last: int | None = None
    for button in buttons:
        parsed = parse_action_id(button.action_id)
        number = parsed[2] if parsed is not None else None
        if not rows or number != last or len(rows[-1]) >= MAX_PER_ROW:
            rows.append([])
        rows[-1].append(button)
        last = number
    return rows


def action_view(rows: list[list[Button]]) -> discord.ui.View:
    view = discord.ui.View(timeout=None)
    for row_no, row in enumerate(rows):
        for button in row:
            view.add_item(ActionButton(button.label, button.action_id, row=row_no))
    return view


def clip(text: str, limit: int = MAX_CONTENT) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def one_line(text: str, limit: int = MAX_CONTENT) -> str:
    """``text`` on one line (whitespace runs become one space), cut at a word boundary to fit ``limit``."""
    line = " ".join(text.split())
    if len(line) <= limit:
        return line
    head = line[: limit - 1]
    space = head.rfind(" ")
    if space >= limit // 2:
        head = head[:space]
    return head.rstrip(" ·,;:—-") + "…"


def chunks(text: str, limit: int = MAX_CONTENT) -> list[str]:
    """``text`` in pieces of at most ``limit`` characters, in order; joined, they are ``text`` again.

    A piece ends after a line break where there is one, else after a space, else at the limit.
    """
    pieces: list[str] = []
    rest = text
    while len(rest) > limit:
        head = rest[:limit]
        cut = head.rfind("\n") + 1 or head.rfind(" ") + 1 or limit
        pieces.append(rest[:cut])
        rest = rest[cut:]
    if rest or not pieces:
        pieces.append(rest)
    return pieces


def grid_text(message: Message) -> str:
    lines = [message.text]
    for image in message.images:
        caption = f" — {image.caption}" if image.caption else ""
        lines.append(f"**#{image.number}**{caption}")
    return "\n".join(lines)


class DiscordPresenter:
    platform: str = PLATFORM

    def __init__(self) -> None:
        self._client: DiscordAdapter | None = None
        self._redis: Redis | None = None
        self._read_artifact: Callable[[str], bytes] | None = None

    def bind(self, client: DiscordAdapter, redis: Redis, read_artifact: Callable[[str], bytes]) -> None:
        """Attach the running client (a restarted client binds itself again)."""
        self._client = client
        self._redis = redis
        self._read_artifact = read_artifact

    @property
    def client(self) -> DiscordAdapter:
        if self._client is None:
            raise RuntimeError("the Discord presenter has no client: start DiscordAdapter first")
        return self._client

    @property
    def redis(self) -> Redis:
        if self._redis is None:
            raise RuntimeError("the Discord presenter has no Redis: start DiscordAdapter first")
        return self._redis

    # --- the Presenter protocol ---------------------------------------------------------------------

    async def open_thread(self, channel_id: str, title: str, source_message_id: str | None) -> ThreadRef:
        # Commands arrive as interactions: the id the service passes is an interaction's, not a message's,
        # so there is no message to start the thread from.
        name = clip(" ".join(title.split()) or "campaign", 100)
        try:
            data: Any = await self.client.http.start_thread_without_message(
                int(channel_id), name=name, auto_archive_duration=THREAD_ARCHIVE_MINUTES, type=11
            )
        except discord.Forbidden as exc:
            raise ThreadRefused(
                f"I can't open a campaign thread in <#{channel_id}>: I'm missing a permission there "
                "(Create Public Threads, Send Messages in Threads). Ask a server admin to grant it, "
                "or use a channel where I have it."
            ) from exc
        ref = ThreadRef(platform=PLATFORM, channel_id=str(channel_id), thread_id=str(data["id"]))
        act = _acting.get()
        if act is not None:
            act.opened.append(ref)
        return ref

    async def post(self, thread: ThreadRef, message: Message) -> str:
        channel = self.client.get_partial_messageable(int(thread.thread_id or thread.channel_id))
        if message.kind is MessageKind.GRID and message.images:
            return await self._post_grid(channel, message)
        text = message.text
        if message.kind is MessageKind.ERROR:
            text = f"⚠️ {text}"
        rows = button_rows(message.buttons)
        last = await self._send_text(
            channel, text, view=action_view(rows[:MAX_ROWS]) if rows else discord.utils.MISSING
        )
        await self._more_buttons(channel, rows[MAX_ROWS:])
        await self._seed(last, message.reactions)
        return str(last.id)

    async def update_status(self, thread: ThreadRef, campaign_id: str, text: str) -> None:
        key = keys.status_message(PLATFORM, campaign_id)
        channel = self.client.get_partial_messageable(int(thread.thread_id or thread.channel_id))
        content = one_line(text) or "\u200b"
        known = await self.redis.get(key)
        if known is not None:
            try:
                await channel.get_partial_message(int(as_str(known))).edit(content=content)
                return
            except discord.NotFound:
                log.info("status message of campaign %s is gone; posting a new one", campaign_id)
                await self.redis.delete(key)
        sent = await channel.send(content=content, allowed_mentions=discord.AllowedMentions.none())
        if not await self.redis.set(key, str(sent.id), nx=True):
            # another replica posted the status line first: keep theirs
            winner = await self.redis.get(key)
            with contextlib.suppress(discord.HTTPException):
                await sent.delete()
            if winner is not None:
                await channel.get_partial_message(int(as_str(winner))).edit(content=content)
            return
        await self.redis.sadd(keys.campaign_messages(campaign_id), key)  # type: ignore[misc]

    # --- internals ------------------------------------------------------------------------------------

    async def _post_grid(self, channel: discord.PartialMessageable, message: Message) -> str:
        read = self._read_artifact
        if read is None:
            raise RuntimeError("the Discord presenter cannot read images: start DiscordAdapter first")
        files = [
            discord.File(
                io.BytesIO(read(image.artifact)),
                filename=f"draft-{image.number}.png",
                description=clip(f"#{image.number} {image.caption}".strip(), 1000),
            )
            for image in message.images
        ]
        rows = button_rows(message.buttons)
        last = await self._send_text(
            channel,
            grid_text(message),
            files=files[:MAX_FILES],
            view=action_view(rows[:MAX_ROWS]) if rows else discord.utils.MISSING,
        )
        for start in range(MAX_FILES, len(files), MAX_FILES):
            await channel.send(files=files[start : start + MAX_FILES])
        await self._more_buttons(channel, rows[MAX_ROWS:])
        await self._seed(last, message.reactions)
        return str(last.id)

    async def _send_text(
        self,
        channel: discord.PartialMessageable,
        text: str,
        *,
        files: list[discord.File] | None = None,
        view: discord.ui.View = discord.utils.MISSING,
    ) -> discord.Message:
        """``text`` as one message per chunk; the last one carries ``files`` and ``view``, and is returned."""
        pieces = [piece for piece in chunks(text) if piece.strip()] or ["\u200b"]
        for piece in pieces[:-1]:
            await channel.send(content=piece, allowed_mentions=discord.AllowedMentions.none())
        return await channel.send(
            content=pieces[-1],
            files=files or discord.utils.MISSING,
            view=view,
            allowed_mentions=discord.AllowedMentions.none(),
        )

    async def _more_buttons(self, channel: discord.PartialMessageable, rows: list[list[Button]]) -> None:
        for start in range(0, len(rows), MAX_ROWS):
            await channel.send(content="More actions:", view=action_view(rows[start : start + MAX_ROWS]))

    async def _seed(self, message: discord.Message, reactions: list[str]) -> None:
        for emoji in reactions:
            await message.add_reaction(emoji)
