"""Slack's side of draftloop: a slack-bolt ``AsyncApp`` in HTTP mode behind one aiohttp route.

Wiring::

    presenter = SlackPresenter(bot_token, api_url=slack_api_url)
    service = CampaignService(..., presenters={"slack": presenter, ...})
    slack = SlackAdapter(bot_token, signing_secret, service, presenter, api_url=slack_api_url,
                         approver_user_ids=approvers)
    await slack.start(host, port)      # serves POST /slack/events until
    await slack.stop()

``slack.app`` is the aiohttp application, for mounting elsewhere instead of ``start``. One URL takes
Slack's events, slash commands and interactivity; bolt verifies every request's signature (v0 HMAC of
the signing secret, stale timestamps refused) and answers a bad one with 401.

What people do, and what the bot calls:

- ``/draft <prompt> [flags]`` → ``handle_text("draft …")``; ``/dl <command …>`` (``/dl vary 3 strong``)
  → ``handle_text`` for any command. Slack sends no thread with a slash command, so a ``/dl`` command
  other than ``draft`` goes to the channel's newest unfinished campaign. Both are acknowledged at once;
  the work runs in the background and the answers for the user come back with ``chat.postEphemeral``.
- A message in a campaign thread starting with ``/`` (Slack needs a leading space to send one), or any
  message mentioning the bot, is a command; its files are fetched only from Slack's file hosts (plus the
  host of a configured API base), with the bot token and a byte limit.
- ``reaction_added`` / ``reaction_removed`` → ``handle_reaction`` with the envelope's ``event_id``, so a
  retried delivery (``X-Slack-Retry-Num``) counts once; the bot's own reactions never count. A refused
  vote is explained to the voter with ``chat.postEphemeral`` in the campaign thread (an app cannot remove
  another person's reaction, so the text asks them to).
- Buttons (``block_actions``) → ``handle_action`` with the ``dl:`` action id the button carries.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Collection, Coroutine, Mapping
from typing import Any
from urllib.parse import urlsplit

import aiohttp
from aiohttp import web
from slack_bolt.adapter.aiohttp import to_aiohttp_response, to_bolt_request
from slack_bolt.async_app import AsyncApp
from slack_sdk.errors import SlackApiError

from adapters.slack.emoji import from_slack
from adapters.slack.presenter import PLATFORM, SlackPresenter, ThreadRefused, make_client, mrkdwn
from bot import uploads
from bot.core.model import TERMINAL_STAGES, ThreadRef, User
from bot.service import CampaignService
from bot.state import keys

log = logging.getLogger(__name__)

SLACK_FILE_HOSTS: tuple[str, ...] = ("files.slack.com",)
DEFAULT_PATH = "/slack/events"
DEFAULT_PORT = 3000
MAX_FILES = 8
NAMES_KEPT = 5000  # display names cached per process
MESSAGE_SEEN_SECONDS = 86400
DOWNLOAD_TIMEOUT = 30.0
_HANDLED_SUBTYPES = frozenset({None, "file_share", "thread_broadcast"})


class SlackConfigError(ValueError):
    """The adapter cannot start with these settings (the message says what to change)."""


class AttachmentRefused(Exception):
    """A message a user can read: why an attached file was not used."""


def unescape(text: str) -> str:
    """Slack's escaping of ``&``, ``<`` and ``>`` in the text it sends."""
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


def strip_mention(text: str, bot_user_id: str | None) -> tuple[bool, str]:
    """Whether ``text`` mentions the bot, and the text without those mentions."""
    if not bot_user_id:
        return False, text
    pattern = re.compile(rf"<@{re.escape(bot_user_id)}(?:\|[^>]*)?>")
    stripped, count = pattern.subn(" ", text)
    return count > 0, stripped


def command_line(text: str) -> str:
    """A chat line as the grammar reads it: unescaped, trimmed, Slack links reduced to their target."""
    text = re.sub(r"<(https?://[^|>]+)(?:\|[^>]*)?>", r"\1", text)
    return unescape(text).strip()


class SlackAdapter:
    """Serves Slack's requests through bolt and turns them into ``CampaignService`` calls."""

    def __init__(
        self,
        bot_token: str,
        signing_secret: str,
        service: CampaignService,
        presenter: SlackPresenter,
        *,
        api_url: str | None = None,
        approver_user_ids: Collection[str] = (),
        path: str = DEFAULT_PATH,
        file_hosts: Collection[str] = (),
        max_file_bytes: int = uploads.MAX_BYTES,
        draft_command: str = "/draft",
        catchall_command: str = "/dl",
    ) -> None:
        if not bot_token:
            raise SlackConfigError("the Slack adapter needs a bot token: set SLACK_BOT_TOKEN")
        if not signing_secret:
            raise SlackConfigError(
                "the Slack adapter needs the app's signing secret: set SLACK_SIGNING_SECRET"
            )
        self.service = service
        self.presenter = presenter
        if presenter.redis is None or presenter.read_artifact is None:
            presenter.attach(service.redis, service.read_artifact)
        self.client = make_client(bot_token, api_url)
        self._names: dict[str, str] = {}  # user id -> display name, oldest first
        self.approvers = frozenset(approver_user_ids)
        self.path = path
        self.max_file_bytes = max_file_bytes
        self.draft_command = draft_command
        self.catchall_command = catchall_command
        self.file_hosts = self._allowed_hosts(api_url, file_hosts)
        self._bot_token = bot_token
        self._tasks: set[asyncio.Task[None]] = set()
        self._runner: web.AppRunner | None = None
        self.port: int | None = None
        # process_before_response: each listener only acks and schedules its work, so the HTTP answer
        # leaves once the work is scheduled, well within Slack's 3 seconds.
        self.bolt = AsyncApp(
            client=self.client,
            signing_secret=signing_secret,
            process_before_response=True,
            logger=logging.getLogger("adapters.slack.bolt"),
        )
        self._register()
        self.app = web.Application()
        self.app.router.add_post(path, self.handle)

    @staticmethod
    def _allowed_hosts(api_url: str | None, extra: Collection[str]) -> frozenset[tuple[str, str]]:
        """(scheme, host[:port]) pairs files may come from."""
        allowed = {("https", h) for h in SLACK_FILE_HOSTS}
        for host in extra:
            parts = urlsplit(host if "//" in host else f"https://{host}")
            allowed.add((parts.scheme, parts.netloc.lower()))
        if api_url:
            parts = urlsplit(api_url)
            allowed.add((parts.scheme, parts.netloc.lower()))
        return frozenset(allowed)

    # --- HTTP -----------------------------------------------------------------------------------------

    async def handle(self, request: web.Request) -> web.Response:
        bolt_request = await to_bolt_request(request)
        bolt_response = await self.bolt.async_dispatch(bolt_request)
        return await to_aiohttp_response(bolt_response)

    async def start(self, host: str = "127.0.0.1", port: int = DEFAULT_PORT) -> None:
        self._runner = web.AppRunner(self.app)
        await self._runner.setup()
        site = web.TCPSite(self._runner, host, port)
        await site.start()
        addresses = self._runner.addresses
        self.port = int(addresses[0][1]) if addresses else port
        log.info("slack adapter listening on %s:%s%s", host, self.port, self.path)

    async def stop(self, grace_seconds: float = 10.0) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
        await self.drain(grace_seconds)
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    async def drain(self, within_seconds: float = 10.0) -> bool:
        """Wait for the work scheduled so far (and what it schedules); False when the time ran out."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + within_seconds
        while self._tasks:
            left = deadline - loop.time()
            if left <= 0:
                return False
            await asyncio.wait(set(self._tasks), timeout=left)
        return True

    def _spawn(self, work: Coroutine[Any, Any, None], what: str) -> None:
        async def run() -> None:
            try:
                await work
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("slack: handling %s failed", what)

        task = asyncio.create_task(run())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # --- bolt listeners ---------------------------------------------------------------------------------

    def _register(self) -> None:
        app = self.bolt
        app.command(self.draft_command)(self._on_command)
        if self.catchall_command != self.draft_command:
            app.command(self.catchall_command)(self._on_command)
        app.event("message")(self._on_message)
        app.event("app_mention")(self._on_message)
        app.event("reaction_added")(self._on_reaction)
        app.event("reaction_removed")(self._on_reaction)
        app.action(re.compile(r"^dl:"))(self._on_action)

    async def _on_command(self, ack: Any, command: dict[str, Any], context: Any, respond: Any) -> None:
        await ack()
        self._spawn(self._command(command, context.get("bot_user_id"), respond), "a slash command")

    async def _on_message(self, ack: Any, event: dict[str, Any], context: Any) -> None:
        await ack()
        if event.get("subtype") not in _HANDLED_SUBTYPES or event.get("bot_id"):
            return
        self._spawn(self._message(event, context.get("bot_user_id")), "a message")

    async def _on_reaction(self, ack: Any, body: dict[str, Any], event: dict[str, Any], context: Any) -> None:
        await ack()
        self._spawn(self._reaction(body, event, context.get("bot_user_id")), "a reaction")

    async def _on_action(self, ack: Any, body: dict[str, Any], action: dict[str, Any]) -> None:
        await ack()
        self._spawn(self._action(body, action), "a button")

    # --- the work ---------------------------------------------------------------------------------------

    async def _user(self, user_id: str, name: str = "", is_bot: bool = False) -> User:
        shown = await self._display_name(user_id) or name
        return User(id=user_id, name=shown, is_approver=user_id in self.approvers, is_bot=is_bot)

    async def _display_name(self, user_id: str) -> str:
        """The name teammates see (users.info), cached; empty when Slack won't say."""
        if not user_id or user_id in self._names:
            return self._names.get(user_id, "")
        try:
            info = await self.client.users_info(user=user_id)
            profile = (info.get("user") or {}).get("profile") or {}
            name = str(profile.get("display_name") or profile.get("real_name") or "")
        except Exception:  # a missing users:read scope or a network hiccup: fall back to the id
            log.info("users.info failed for %s; texts will show the id", user_id)
            name = ""
        if len(self._names) >= NAMES_KEPT:
            self._names.pop(next(iter(self._names)))
        self._names[user_id] = name
        return name

    async def _command(self, command: dict[str, Any], bot_user_id: str | None, respond: Any) -> None:
        channel = str(command.get("channel_id", ""))
        user_id = str(command.get("user_id", ""))
        text = command_line(str(command.get("text", "")))
        if str(command.get("command", "")) == self.draft_command:
            line = f"draft {text}"
        else:
            line = text or "help"
        thread_id = None
        if line.split(maxsplit=1)[0].lstrip("/").lower() != "draft":
            thread_id = await self._latest_thread(channel)
        trigger = command.get("trigger_id")
        user = await self._user(user_id, str(command.get("user_name", "")))
        try:
            await self._run_text(
                channel, thread_id, user, line, {}, f"command:{trigger}" if trigger else None, respond
            )
        except ThreadRefused:
            # the bot cannot post here, so not even an ephemeral reply: the command's response_url can
            me = f"<@{bot_user_id}>" if bot_user_id else "the app"
            text = (
                f"I'm not in <#{channel}>, so I can't start a campaign thread here. "
                f"Invite me with `/invite {me}` and try again."
            )
            await respond(text=text, response_type="ephemeral")

    async def _latest_thread(self, channel: str) -> str | None:
        for campaign in await self.service.campaigns_in_channel(PLATFORM, channel):  # newest first
            if campaign.stage not in TERMINAL_STAGES:
                return campaign.thread.thread_id
        return None

    async def _message(self, event: dict[str, Any], bot_user_id: str | None) -> None:
        user_id = event.get("user")
        channel = event.get("channel")
        ts = event.get("ts")
        if not user_id or not channel or not ts or user_id == bot_user_id:
            return
        thread_ts = event.get("thread_ts") or None
        mentioned, text = strip_mention(str(event.get("text") or ""), bot_user_id)
        line = command_line(text)
        if not mentioned:
            if thread_ts is None or not line.startswith("/"):
                return
            thread = ThreadRef(platform=PLATFORM, channel_id=channel, thread_id=thread_ts)
            if await self.service.campaign_for_thread(thread) is None:
                return
        # A mention can arrive twice (as a message and as app_mention) and any event can be retried.
        seen = keys.seen("slack-message", f"{channel}:{ts}")
        if not await self.service.redis.set(seen, "1", nx=True, ex=MESSAGE_SEEN_SECONDS):
            return
        try:
            try:
                attachments = await self._attachments(event.get("files") or [])
            except AttachmentRefused as exc:
                await self._ephemeral(channel, user_id, str(exc), thread_ts)
                return
            await self._run_text(
                channel, thread_ts, await self._user(user_id), line or "help", attachments, None
            )
        except BaseException:
            await self.service.redis.delete(seen)
            raise

    async def _run_text(
        self,
        channel: str,
        thread_id: str | None,
        user: User,
        line: str,
        attachments: Mapping[str, bytes],
        event_id: str | None,
        respond: Any = None,
    ) -> None:
        with self.presenter.acting(user.id) as act:
            replies = await self.service.handle_text(
                PLATFORM, channel, thread_id, user, line, attachments=attachments, event_id=event_id
            )
        where = act.opened[0].thread_id if act.opened else thread_id
        for reply in replies:
            await self._ephemeral(channel, user.id, reply, where, respond)

    async def _reaction(self, body: dict[str, Any], event: dict[str, Any], bot_user_id: str | None) -> None:
        item = event.get("item") or {}
        user_id = event.get("user")
        if item.get("type") != "message" or not user_id or not item.get("channel") or not item.get("ts"):
            return
        channel = str(item["channel"])
        added = event.get("type") == "reaction_added"
        user = await self._user(str(user_id), is_bot=user_id == bot_user_id)
        refusal = await self.service.handle_reaction(
            PLATFORM,
            f"{channel}:{item['ts']}",
            from_slack(str(event.get("reaction", ""))),
            user,
            added,
            event_id=body.get("event_id"),
        )
        if refusal and added:
            # Slack lets no app remove someone else's reaction: the reason goes to that person, in the
            # campaign's thread, with a hint to take the reaction back
            name = str(event.get("reaction", ""))
            reason = refusal.rstrip()
            if not reason.endswith((".", "!", "?")):
                reason += "."
            text = f"Your :{name}: vote was not counted: {reason} You can remove that reaction."
            await self._ephemeral(channel, user.id, text, await self._thread_of(f"{channel}:{item['ts']}"))

    async def _thread_of(self, message_id: str) -> str | None:
        """The campaign thread a voting grid is in (None when the grid is unknown)."""
        ref = await self.service.messages.lookup(PLATFORM, message_id)
        campaign = await self.service.campaign(ref[0]) if ref is not None else None
        return campaign.thread.thread_id if campaign is not None else None

    async def _action(self, body: dict[str, Any], action: dict[str, Any]) -> None:
        user_id = str((body.get("user") or {}).get("id", ""))
        container = body.get("container") or {}
        message = body.get("message") or {}
        channel = str((body.get("channel") or {}).get("id") or container.get("channel_id") or "")
        thread_ts = message.get("thread_ts") or container.get("thread_ts")
        action_id = str(action.get("action_id") or action.get("value") or "")
        trigger = body.get("trigger_id")
        user = await self._user(user_id, str((body.get("user") or {}).get("username", "")))
        with self.presenter.acting(user_id):
            replies = await self.service.handle_action(
                PLATFORM, action_id, user, event_id=f"action:{trigger}" if trigger else None
            )
        for reply in replies:
            await self._ephemeral(channel, user_id, reply, thread_ts)

    async def _ephemeral(
        self, channel: str, user_id: str, text: str, thread_ts: str | None, respond: Any = None
    ) -> None:
        """Show ``text`` to the user only; a slash command's ``respond`` works where the bot is no member."""
        if not channel or not user_id:
            return
        try:
            await self.client.chat_postEphemeral(
                channel=channel, user=user_id, text=mrkdwn(text), thread_ts=thread_ts
            )
        except SlackApiError as exc:
            if respond is not None:
                await respond(text=mrkdwn(text), response_type="ephemeral")
                return
            log.warning("slack: a reply to a user could not be posted (%s)", exc.response.get("error"))

    # --- files ------------------------------------------------------------------------------------------

    async def _attachments(self, files: list[dict[str, Any]]) -> dict[str, bytes]:
        if len(files) > MAX_FILES:
            raise AttachmentRefused(f"Attach at most {MAX_FILES} files to one command.")
        out: dict[str, bytes] = {}
        for f in files:
            name = str(f.get("name") or f.get("title") or f.get("id") or "file")
            url = str(f.get("url_private_download") or f.get("url_private") or "")
            parts = urlsplit(url)
            if (parts.scheme, parts.netloc.lower()) not in self.file_hosts:
                where = parts.hostname or "an unknown place"
                raise AttachmentRefused(
                    f"'{name}' was not used: attachments are only fetched from Slack's own file hosts, "
                    f"and this one is at {where}. Upload the image to Slack and try again."
                )
            size = f.get("size")
            if isinstance(size, int) and size > self.max_file_bytes:
                raise AttachmentRefused(self._too_large(name))
            out[name] = await self._download(name, url)
        return out

    def _too_large(self, name: str) -> str:
        return f"'{name}' is larger than {self.max_file_bytes / 1e6:.0f} MB; attach a smaller image."

    async def _download(self, name: str, url: str) -> bytes:
        headers = {"Authorization": f"Bearer {self._bot_token}"}
        timeout = aiohttp.ClientTimeout(total=DOWNLOAD_TIMEOUT)
        try:
            async with (
                aiohttp.ClientSession(timeout=timeout) as session,
                session.get(url, headers=headers, allow_redirects=False) as resp,
            ):
                if resp.status != 200:
                    raise AttachmentRefused(f"'{name}' could not be fetched from Slack (HTTP {resp.status}).")
                length = resp.content_length
                if length is not None and length > self.max_file_bytes:
                    raise AttachmentRefused(self._too_large(name))
                data = bytearray()
                async for chunk in resp.content.iter_chunked(65536):
                    data += chunk
                    if len(data) > self.max_file_bytes:
                        raise AttachmentRefused(self._too_large(name))
                return bytes(data)
        except (aiohttp.ClientError, TimeoutError) as exc:
            why = type(exc).__name__
            raise AttachmentRefused(f"'{name}' could not be fetched from Slack ({why}).") from exc


__all__ = ["SLACK_FILE_HOSTS", "AttachmentRefused", "SlackAdapter", "SlackConfigError"]
