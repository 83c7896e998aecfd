"""What the bot does with each Slack request once bolt has verified and acknowledged it.

Where commands come from, given that Slack's app slash commands cannot be used in threads:

- in a channel: ``/draft <prompt>`` and ``/dl <command>``. ``/dl`` carries no thread, so the core picks
  the campaign (``--campaign REF``, or it asks which one); the answers go where the command was typed,
  ephemerally in the channel (or through the command's ``response_url`` where the bot is no member);
- in a campaign thread: a message that starts with a command word (``vary 3``, ``select 2``,
  ``upscale 5``; a leading ``/`` is fine too) or that mentions the bot; other chatter is ignored;
- anywhere: a message that mentions the bot (``@draftloop draft a fox``).

Every call into the service carries the identity Slack gave the event, the same on every replica, so
an event two replicas receive (or Slack retries) is handled once by the service:

- slash commands and buttons: the ``trigger_id``;
- messages: ``message:<channel>:<ts>`` (a mention arrives twice, as ``message`` and as ``app_mention``,
  with two envelope ids but one message);
- reactions: ``reaction:<channel>:<ts>:<user>:<emoji>:<added|removed>:<event_ts>``.
"""

from __future__ import annotations

import logging
from collections.abc import Collection, Mapping
from typing import Any

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from adapters.slack.emoji import from_slack
from adapters.slack.files import AttachmentRefused, SlackFiles
from adapters.slack.lines import command_line, strip_mention
from adapters.slack.presenter import PLATFORM, SlackPresenter, ThreadRefused, mrkdwn
from bot.core.grammar.table import TOP_WORDS
from bot.core.model import ThreadRef, User
from bot.service import CampaignService

log = logging.getLogger(__name__)

NAMES_KEPT = 5000  # display names cached per process
MESSAGES_KEPT = 1000  # messages this process took up lately: a mention arrives as two events
HANDLED_SUBTYPES = frozenset({None, "file_share", "thread_broadcast"})


def starts_with_command(line: str) -> bool:
    """``vary 3 strong`` or ``/vary 3 strong``: the line's first word is one of the commands."""
    words = line.lstrip().removeprefix("/").split(maxsplit=1)
    return bool(words) and words[0].lower() in TOP_WORDS


def reaction_event_id(event: Mapping[str, Any]) -> str:
    item = event.get("item") or {}
    change = "added" if event.get("type") == "reaction_added" else "removed"
    return ":".join(
        (
            "reaction",
            str(item.get("channel", "")),
            str(item.get("ts", "")),
            str(event.get("user", "")),
            str(event.get("reaction", "")),
            change,
            str(event.get("event_ts", "")),
        )
    )


class SlackListeners:
    def __init__(
        self,
        service: CampaignService,
        presenter: SlackPresenter,
        client: AsyncWebClient,
        files: SlackFiles,
        *,
        approver_user_ids: Collection[str] = (),
        draft_command: str = "/draft",
    ) -> None:
        self.service = service
        self.presenter = presenter
        self.client = client
        self.files = files
        self.approvers = frozenset(approver_user_ids)
        self.draft_command = draft_command
        self._names: dict[str, str] = {}  # user id -> display name, oldest first
        self._taken: dict[str, None] = {}  # message event ids taken up here, oldest first

    # --- people ----------------------------------------------------------------------------------------

    async def user(self, user_id: str, name: str = "", is_bot: bool = False) -> User:
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

    # --- slash commands --------------------------------------------------------------------------------

    async def command(self, command: dict[str, Any], bot_user_id: str | None, respond: Any) -> None:
        channel = str(command.get("channel_id", ""))
        user_id = str(command.get("user_id", ""))
        text = command_line(str(command.get("text", "")))
        if str(command.get("command", "")) == self.draft_command:
            line = f"draft {text}"
        else:
            line = text or "help"
        trigger = command.get("trigger_id")
        user = await self.user(user_id, str(command.get("user_name", "")))
        try:
            # a slash command is never in a thread: its answers go to the channel it was typed in
            await self._run_text(channel, None, user, line, {}, str(trigger) if trigger else None, respond)
        except ThreadRefused:
            # the bot cannot post here, so not even an ephemeral reply: the command's response_url can
            me = f"<@{bot_user_id}>" if bot_user_id else "the app"
            text = (
                f"I'm not in <#{channel}>, so I can't start a campaign thread here. "
                f"Invite me with `/invite {me}` and try again."
            )
            await respond(text=text, response_type="ephemeral")

    # --- messages --------------------------------------------------------------------------------------

    async def message(self, event: dict[str, Any], bot_user_id: str | None) -> None:
        user_id = event.get("user")
        channel = event.get("channel")
        ts = event.get("ts")
        if not user_id or not channel or not ts or user_id == bot_user_id:
            return
        thread_ts = event.get("thread_ts") or None
        mentioned, text = strip_mention(str(event.get("text") or ""), bot_user_id)
        line = command_line(text)
        if not mentioned:
            if thread_ts is None or not starts_with_command(line):
                return
            thread = ThreadRef(platform=PLATFORM, channel_id=channel, thread_id=thread_ts)
            if await self.service.campaign_for_thread(thread) is None:
                return
        event_id = f"message:{channel}:{ts}"
        if not self._take(event_id):
            return  # its other event (message / app_mention) is handled here already
        try:
            try:
                attachments = await self.files.read(event.get("files") or [])
            except AttachmentRefused as exc:
                await self.ephemeral(channel, user_id, str(exc), thread_ts)
                return
            await self._run_text(
                channel, thread_ts, await self.user(user_id), line or "help", attachments, event_id
            )
        except BaseException:
            self._taken.pop(event_id, None)  # Slack's retry of it is taken up again
            raise

    def _take(self, event_id: str) -> bool:
        """False when this process took the message up already (the service dedupes across replicas)."""
        if event_id in self._taken:
            return False
        if len(self._taken) >= MESSAGES_KEPT:
            self._taken.pop(next(iter(self._taken)))
        self._taken[event_id] = None
        return True

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
        with self.presenter.acting(user.id):
            replies = await self.service.handle_text(
                PLATFORM, channel, thread_id, user, line, attachments=attachments, event_id=event_id
            )
        for reply in replies:
            await self.ephemeral(channel, user.id, reply, thread_id, respond)

    # --- reactions -------------------------------------------------------------------------------------

    async def reaction(self, event: dict[str, Any], bot_user_id: str | None) -> None:
        item = event.get("item") or {}
        user_id = event.get("user")
        if item.get("type") != "message" or not user_id or not item.get("channel") or not item.get("ts"):
            return
        channel = str(item["channel"])
        added = event.get("type") == "reaction_added"
        user = await self.user(str(user_id), is_bot=user_id == bot_user_id)
        refusal = await self.service.handle_reaction(
            PLATFORM,
            f"{channel}:{item['ts']}",
            from_slack(str(event.get("reaction", ""))),
            user,
            added,
            event_id=reaction_event_id(event),
        )
        if refusal and added:
            # Slack lets no app remove someone else's reaction: the reason goes to that person, in the
            # campaign's thread, with a hint to take the reaction back
            name = str(event.get("reaction", ""))
            reason = refusal.rstrip()
            if not reason.endswith((".", "!", "?")):
                reason += "."
            text = f"Your :{name}: vote was not counted: {reason} You can remove that reaction."
            await self.ephemeral(channel, user.id, text, await self._thread_of(f"{channel}:{item['ts']}"))

    async def _thread_of(self, message_id: str) -> str | None:
        """The campaign thread a voting grid is in (None when the grid is unknown)."""
        ref = await self.service.messages.lookup(PLATFORM, message_id)
        campaign = await self.service.campaign(ref[0]) if ref is not None else None
        return campaign.thread.thread_id if campaign is not None else None

    # --- buttons ---------------------------------------------------------------------------------------

    async def action(self, body: dict[str, Any], action: dict[str, Any]) -> None:
        user_id = str((body.get("user") or {}).get("id", ""))
        container = body.get("container") or {}
        message = body.get("message") or {}
        channel = str((body.get("channel") or {}).get("id") or container.get("channel_id") or "")
        thread_ts = message.get("thread_ts") or container.get("thread_ts")
        action_id = str(action.get("action_id") or action.get("value") or "")
        trigger = body.get("trigger_id")
        user = await self.user(user_id, str((body.get("user") or {}).get("username", "")))
        with self.presenter.acting(user_id):
            replies = await self.service.handle_action(
                PLATFORM, action_id, user, event_id=str(trigger) if trigger else None
            )
        for reply in replies:
            await self.ephemeral(channel, user_id, reply, thread_ts)

    # --- answers for one person ------------------------------------------------------------------------

    async def ephemeral(
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
