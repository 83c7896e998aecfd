"""The Discord adapter: a ``discord.Client`` that turns slash commands, reactions and button presses into
service calls.

- Slash commands are deferred (ephemeral) at once, then parsed with ``grammar.parse_options``; the
  service's replies for the acting person come back as ephemeral follow-ups.
- Reactions arrive as raw gateway events, so reactions on messages the client never cached are votes.
  Each one's event id is ``<message>:<user>:<emoji>:<add|remove>``, the same on every replica, so an
  event two replicas receive (or the gateway replays) is handled once. One person's reactions on one
  message are handled in the order they happened. A vote the service refuses is taken back (the
  person's reaction is removed) and the reason goes to that person in a DM with a link to the message;
  when their DMs are closed, a short reply in the thread mentions them and is deleted after a minute.
- Buttons are ``ActionButton`` dynamic items: their custom id is the action id, so a button posted before
  a restart still works.
- The approver role (a role name or id) makes ``User.is_approver``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
from collections.abc import Awaitable, Callable, Iterable
from typing import Any

import discord
import yarl
from discord import app_commands

from adapters.discord import commands
from adapters.discord.attachments import AttachmentError, AttachmentFetcher
from adapters.discord.buttons import ActionButton
from adapters.discord.presenter import MAX_CONTENT, PLATFORM, DiscordPresenter, ThreadRefused, clip
from bot.availability import BotUnavailable
from bot.core import grammar
from bot.core.commands import CommandError, Help
from bot.core.model import User
from bot.core.text import chunks
from bot.fetching import DEFAULT_MAX_BYTES
from bot.keyed_locks import KeyedLocks
from bot.service import CampaignService

log = logging.getLogger(__name__)

READY_TIMEOUT = 60.0
NOTICE_SECONDS = 60.0  # how long a refusal shown in the thread (DMs closed) stays
_DMS_CLOSED = 50007  # "Cannot send messages to this user"
_FAILED = "Sorry, something went wrong while handling that; please try again."


def set_api_base(api_base: str) -> None:
    """Point discord.py's REST calls (and so the gateway URL it asks for) at another Discord API."""
    discord.http.Route.BASE = api_base.rstrip("/")


def _attachment_key(option: str, filename: str) -> str:
    return f"{option}-{re.sub(r'[^A-Za-z0-9._-]+', '_', filename)[:80] or 'image'}"


def message_link(guild_id: int | None, channel_id: int, message_id: int) -> str:
    return f"https://discord.com/channels/{guild_id or '@me'}/{channel_id}/{message_id}"


class DiscordAdapter(discord.Client):
    """The bot on Discord. ``start()`` connects and returns once the gateway is ready; ``stop()`` closes."""

    def __init__(
        self,
        token: str,
        service: CampaignService,
        presenter: DiscordPresenter,
        *,
        api_base: str | None = None,
        approver_role: str = "approver",
        guild_ids: Iterable[int | str] | None = None,
        max_attachment_bytes: int = DEFAULT_MAX_BYTES,
        ready_timeout: float = READY_TIMEOUT,
        notice_seconds: float = NOTICE_SECONDS,
    ) -> None:
        intents = discord.Intents.none()
        intents.guilds = True
        intents.guild_reactions = True
        # discord.py waits out a 429 itself up to this long; a longer wait raises, and the presenter
        # hands it to the caller as RateLimited
        super().__init__(intents=intents, max_ratelimit_timeout=30.0)
        self.api_base = api_base
        if api_base:
            set_api_base(api_base)
        self._token = token
        self.service = service
        self.presenter = presenter
        self.approver_role = approver_role.strip()
        self.guild_ids = tuple(int(g) for g in guild_ids or ())
        self.ready_timeout = ready_timeout
        self.notice_seconds = notice_seconds
        self.fetcher = AttachmentFetcher(api_base=api_base, max_bytes=max_attachment_bytes)
        self.tree: app_commands.CommandTree[DiscordAdapter] = app_commands.CommandTree(self)
        commands.register(self.tree, self.run_command)
        self._reaction_order = KeyedLocks()  # (message, user) -> handled one at a time, in order
        self._notices: set[asyncio.Task[None]] = set()  # thread replies waiting to be deleted
        self._runner: asyncio.Task[None] | None = None
        presenter.bind(self, service.read_artifact)

    def __repr__(self) -> str:  # never the token
        return f"<DiscordAdapter user={self.user!s} guilds={list(self.guild_ids)}>"

    # --- lifecycle --------------------------------------------------------------------------------------

    async def start(self, token: str = "", *, reconnect: bool = True) -> None:
        """Log in, connect the gateway in a background task and wait until it is ready."""
        await self.login(token or self._token)
        if self.api_base:
            # a plain Client connects to discord.py's default gateway; another API hands out its own
            _, url, _ = await self.http.get_bot_gateway()
            discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(url)
        self._runner = asyncio.create_task(self.connect(reconnect=reconnect), name="discord-gateway")
        ready = asyncio.create_task(self.wait_until_ready())
        done, _ = await asyncio.wait(
            {self._runner, ready}, timeout=self.ready_timeout, return_when=asyncio.FIRST_COMPLETED
        )
        if ready in done:
            return
        ready.cancel()
        if self._runner in done:
            await self.stop()
            self._runner.result()  # raises why the connection ended
            raise ConnectionError("the Discord gateway closed before it was ready")
        await self.stop()
        raise TimeoutError(f"the Discord gateway was not ready within {self.ready_timeout:.0f} s")

    async def stop(self) -> None:
        notices = list(self._notices)
        for task in notices:
            task.cancel()  # each deletes its reply now
        if notices:
            await asyncio.wait(notices, timeout=10)
        await self.close()
        runner, self._runner = self._runner, None
        if runner is not None:
            with contextlib.suppress(Exception, asyncio.CancelledError):
                await asyncio.wait_for(runner, timeout=10)
        await self.fetcher.close()

    async def setup_hook(self) -> None:
        self.add_dynamic_items(ActionButton)
        try:
            scopes: list[discord.Object | None] = [discord.Object(id=g) for g in self.guild_ids] or [None]
            for guild in scopes:
                if guild is not None:
                    self.tree.copy_global_to(guild=guild)
                synced = await commands.sync_if_changed(self.tree, guild)
                where = f"guild {guild.id}" if guild is not None else "all guilds"
                log.info("slash commands for %s %s", where, "registered" if synced else "unchanged")
        except discord.HTTPException as exc:
            log.error("registering the slash commands failed (HTTP %s); existing ones stay", exc.status)

    # --- people -----------------------------------------------------------------------------------------

    def user_of(self, who: discord.abc.User | None, user_id: int | None = None) -> User:
        if who is None:
            uid = user_id or 0
            return User(id=str(uid), is_bot=self.user is not None and uid == self.user.id)
        roles = getattr(who, "roles", None) or []
        wanted = self.approver_role
        approver = bool(wanted) and any(r.name == wanted or str(r.id) == wanted for r in roles)
        own = self.user is not None and who.id == self.user.id
        return User(id=str(who.id), name=who.display_name, is_approver=approver, is_bot=who.bot or own)

    # --- slash commands ---------------------------------------------------------------------------------

    async def run_command(
        self, interaction: discord.Interaction[Any], name: str, options: dict[str, Any]
    ) -> None:
        await self._answer(interaction, f"/{name}", lambda: self._command(interaction, name, options))

    async def _command(
        self, interaction: discord.Interaction[Any], name: str, options: dict[str, Any]
    ) -> list[str]:
        values: dict[str, grammar.OptionValue] = {}
        attachments: dict[str, bytes] = {}
        for key, value in options.items():
            if isinstance(value, discord.Attachment):
                ref = _attachment_key(key, value.filename)
                try:
                    attachments[ref] = await self.fetcher.fetch(value.url, value.filename, value.size)
                except AttachmentError as exc:
                    return [f"--{key}: {exc}"]
                values[key] = ref
            else:
                values[key] = value
        parsed = grammar.parse_options(name, values)
        if isinstance(parsed, CommandError):
            return [parsed.text()]
        if isinstance(parsed, Help) and parsed.topic != "models":  # the service knows the live models
            return [grammar.help_text(parsed.topic)]
        if interaction.guild_id is None:
            return ["Campaigns live in server channels: use the commands in a channel of a server."]
        channel = interaction.channel
        if isinstance(channel, discord.Thread):
            channel_id, thread_id = str(channel.parent_id), str(channel.id)
        else:
            channel_id, thread_id = str(interaction.channel_id), None
        with self.presenter.acting(str(interaction.user.id)) as act:
            try:
                replies = await self.service.handle_command(
                    PLATFORM,
                    channel_id,
                    thread_id,
                    self.user_of(interaction.user),
                    parsed,
                    attachments,
                    event_id=str(interaction.id),
                )
            except ThreadRefused as exc:
                return [str(exc)]
        return replies + [f"Started the campaign in <#{ref.thread_id}>." for ref in act.opened]

    async def _answer(
        self, interaction: discord.Interaction[Any], what: str, work: Callable[[], Awaitable[list[str]]]
    ) -> None:
        """Acknowledge at once (Discord allows 3 s), then send ``work``'s replies to the person alone."""
        await interaction.response.defer(ephemeral=True, thinking=True)
        try:
            replies = await work()
        except BotUnavailable as exc:
            replies = [exc.text]
        except Exception:
            log.exception("%s failed", what)
            replies = [_FAILED]
        await self._reply(interaction, replies)

    async def _reply(self, interaction: discord.Interaction[Any], replies: list[str]) -> None:
        texts = [t for reply in replies for t in chunks(reply, MAX_CONTENT) if t.strip()] or ["Done."]
        for text in texts:
            await interaction.followup.send(
                text, ephemeral=True, allowed_mentions=discord.AllowedMentions.none()
            )

    # --- buttons ----------------------------------------------------------------------------------------

    async def on_action_button(self, interaction: discord.Interaction[Any], action_id: str) -> None:
        async def press() -> list[str]:
            with self.presenter.acting(str(interaction.user.id)):
                return await self.service.handle_action(
                    PLATFORM, action_id, self.user_of(interaction.user), event_id=str(interaction.id)
                )

        await self._answer(interaction, f"button {action_id}", press)

    # --- reactions --------------------------------------------------------------------------------------

    async def on_raw_reaction_add(self, payload: discord.RawReactionActionEvent) -> None:
        await self._reaction(payload, added=True)

    async def on_raw_reaction_remove(self, payload: discord.RawReactionActionEvent) -> None:
        await self._reaction(payload, added=False)

    async def _reaction(self, payload: discord.RawReactionActionEvent, *, added: bool) -> None:
        try:
            refusal = None
            async with self._reaction_order.hold((payload.message_id, payload.user_id)):
                user = self.user_of(payload.member, payload.user_id)
                refusal = await self.service.handle_reaction(
                    PLATFORM, str(payload.message_id), str(payload.emoji), user, added
                )
            if refusal and added:
                await self._refused(payload, refusal)
        except BotUnavailable as exc:
            if added:  # the platform won't deliver it again: take it back so it doesn't look counted
                await self._refused(payload, f"{exc.text} Your vote wasn't counted: react again then.")
        except Exception:
            log.exception("reaction on message %s failed", payload.message_id)

    async def _refused(self, payload: discord.RawReactionActionEvent, refusal: str) -> None:
        """Take the reaction back, so it does not look like a counted vote, and tell its author why."""
        channel = self.get_partial_messageable(payload.channel_id, guild_id=payload.guild_id)
        message = channel.get_partial_message(payload.message_id)
        taken_back = True
        try:
            await message.remove_reaction(payload.emoji, discord.Object(id=payload.user_id))
        except discord.HTTPException as exc:
            taken_back = False
            log.warning("could not remove a refused reaction on %s (HTTP %s)", payload.message_id, exc.status)
        what = f"Your {payload.emoji} vote was not counted"
        if taken_back:
            what += " and your reaction was removed"
        link = message_link(payload.guild_id, payload.channel_id, payload.message_id)
        try:
            dm = await self.create_dm(discord.Object(id=payload.user_id))
            await dm.send(clip(f"{what}: {refusal}\n{link}"), allowed_mentions=discord.AllowedMentions.none())
            return
        except discord.Forbidden as exc:
            if exc.code != _DMS_CLOSED:
                raise
        # their DMs are closed: a short reply in the thread, gone after a while
        notice = await channel.send(
            clip(f"<@{payload.user_id}> {what}: {refusal}"),
            reference=message.to_reference(fail_if_not_exists=False),
            allowed_mentions=discord.AllowedMentions(
                users=[discord.Object(id=payload.user_id)], replied_user=False
            ),
        )
        task = asyncio.create_task(self._delete_later(notice), name="discord-notice")
        self._notices.add(task)
        task.add_done_callback(self._notices.discard)

    async def _delete_later(self, notice: discord.Message) -> None:
        try:
            await asyncio.sleep(self.notice_seconds)
        finally:  # also when stopping: the reply goes now
            try:
                await notice.delete()
            except discord.HTTPException as exc:
                if not isinstance(exc, discord.NotFound):
                    log.warning("could not delete the refusal reply %s (HTTP %s)", notice.id, exc.status)
