"""How the bot's neutral messages look in Slack: ``SlackPresenter`` implements ``bot.ports.Presenter``.

- A campaign thread is a Slack thread: ``open_thread`` posts a parent message ("🎨 <prompt>", naming who
  asked) in the channel, and its ``ts`` is the thread id.
- A grid is the candidates' PNGs uploaded into the thread (files upload v2: getUploadURLExternal →
  upload → completeUploadExternal with ``thread_ts``), then one Block Kit message listing each number
  with its caption and buttons. The number reactions are seeded on that message; it is the message
  whose reactions are votes. Buttons carry the ``dl:`` action id as ``action_id`` and ``value``, so they
  work after a restart.
- The status line is one message per campaign, edited with ``chat.update``; its ``ts`` is kept in Redis
  so any replica edits the same message.

Message ids handed back to the service are ``"<channel>:<ts>"`` (a ``ts`` is unique only per channel).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

from redis.asyncio import Redis
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.builtin_async_handlers import AsyncRateLimitErrorRetryHandler
from slack_sdk.web.async_client import AsyncWebClient

from adapters.slack.emoji import to_slack
from bot.core.buttons import parse_action_id
from bot.core.messages import Button, Message, MessageKind
from bot.core.model import ThreadRef
from bot.ports import Acting, ActingScope
from bot.state import keys
from bot.state.codec import as_str
from bot.state.retention import DEFAULT_RETENTION_SECONDS

log = logging.getLogger(__name__)

PLATFORM = "slack"
DEFAULT_API_URL = "https://slack.com/api/"
MAX_SECTION_TEXT = 3000
MAX_FALLBACK_TEXT = 4000
MAX_BUTTON_LABEL = 75
BUTTONS_PER_ROW = 5
MAX_BLOCKS = 50
STATUS_TEXTS_KEPT = 1000  # campaigns whose last shown status text is remembered (skip equal edits)


def api_base_url(api_url: str | None) -> str:
    """The Web API base with the trailing slash slack_sdk expects."""
    url = (api_url or DEFAULT_API_URL).strip()
    return url if url.endswith("/") else url + "/"


def make_client(bot_token: str, api_url: str | None = None) -> AsyncWebClient:
    return AsyncWebClient(
        token=bot_token,
        base_url=api_base_url(api_url),
        retry_handlers=[AsyncRateLimitErrorRetryHandler(max_retry_count=2)],
    )


def escape(text: str) -> str:
    """Slack's three control characters in message text."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def message_id(channel_id: str, ts: str) -> str:
    return f"{channel_id}:{ts}"


_BOLD = re.compile(r"\*\*(.+?)\*\*")


def mrkdwn(text: str) -> str:
    """The bot's text as Slack mrkdwn: escaped, ``**bold**`` as ``*bold*``."""
    return _BOLD.sub(r"*\1*", escape(text))


_acting = ActingScope("slack_acting")
_NOT_A_MEMBER = frozenset({"not_in_channel", "channel_not_found"})


class ThreadRefused(Exception):
    """Slack would not let the bot post the thread's first message: it is not in that channel."""


class SlackPresenter:
    """Shows the bot's messages in Slack through the Web API."""

    platform: str = PLATFORM

    def __init__(
        self,
        bot_token: str,
        redis: Redis | None = None,
        *,
        api_url: str | None = None,
        client: AsyncWebClient | None = None,
        read_artifact: Callable[[str], bytes] | None = None,
        status_ttl_seconds: int = DEFAULT_RETENTION_SECONDS,
    ) -> None:
        self.client = client or make_client(bot_token, api_url)
        self.redis = redis
        self.read_artifact = read_artifact
        self.status_ttl_seconds = status_ttl_seconds
        self._status_local: dict[str, str] = {}  # without Redis: campaign -> ts
        self._status_text: OrderedDict[str, str] = OrderedDict()  # campaign -> text last shown, newest last
        self._status_locks: dict[str, tuple[asyncio.Lock, int]] = {}  # campaign -> (lock, users)

    def attach(self, redis: Redis, read_artifact: Callable[[str], bytes]) -> None:
        """Give a presenter built before the service its Redis (status ids) and the artifact reader."""
        self.redis = redis
        self.read_artifact = read_artifact

    # --- who is acting ------------------------------------------------------------------------------

    @staticmethod
    def acting(user_id: str) -> contextlib.AbstractContextManager[Acting]:
        """Within this block, private posts go to ``user_id`` and opened threads are recorded."""
        return _acting.enter(user_id)

    # --- the Presenter protocol ---------------------------------------------------------------------

    async def open_thread(self, channel_id: str, title: str, source_message_id: str | None) -> ThreadRef:
        act = _acting.get()
        text = f"🎨 {escape(title.strip() or 'campaign')}"
        if act is not None:
            text += f"\nstarted by <@{act.user}>"
        try:
            resp = await self.client.chat_postMessage(channel=channel_id, text=text, unfurl_links=False)
        except SlackApiError as exc:
            if exc.response.get("error") in _NOT_A_MEMBER:
                raise ThreadRefused(channel_id) from exc
            raise
        ref = ThreadRef(platform=PLATFORM, channel_id=channel_id, thread_id=str(resp["ts"]))
        if act is not None:
            act.opened.append(ref)
        return ref

    async def post(self, thread: ThreadRef, message: Message) -> str:
        act = _acting.get()
        private = message.ephemeral or message.kind is MessageKind.ERROR
        if private and act is not None:
            resp = await self.client.chat_postEphemeral(
                channel=thread.channel_id,
                user=act.user,
                thread_ts=thread.thread_id,
                text=mrkdwn(message.text)[:MAX_FALLBACK_TEXT],
            )
            return message_id(thread.channel_id, str(resp.get("message_ts", "")))
        if message.images:
            await self._upload(thread, message)
        blocks = grid_blocks(message) if (message.images or message.buttons) else None
        resp = await self.client.chat_postMessage(
            channel=thread.channel_id,
            thread_ts=thread.thread_id,
            text=mrkdwn(message.text)[:MAX_FALLBACK_TEXT],
            blocks=blocks,
            unfurl_links=False,
        )
        ts = str(resp["ts"])
        for emoji in message.reactions:
            name = to_slack(emoji)
            if name is None:
                continue
            try:
                await self.client.reactions_add(channel=thread.channel_id, timestamp=ts, name=name)
            except SlackApiError as exc:
                if exc.response.get("error") != "already_reacted":
                    raise
        return message_id(thread.channel_id, ts)

    async def update_status(self, thread: ThreadRef, campaign_id: str, text: str) -> None:
        lock, users = self._status_locks.get(campaign_id) or (asyncio.Lock(), 0)
        self._status_locks[campaign_id] = (lock, users + 1)
        try:
            async with lock:
                await self._update_status(thread, campaign_id, text)
        finally:
            lock, users = self._status_locks[campaign_id]
            if users <= 1:
                del self._status_locks[campaign_id]
            else:
                self._status_locks[campaign_id] = (lock, users - 1)

    async def _update_status(self, thread: ThreadRef, campaign_id: str, text: str) -> None:
        shown = mrkdwn(text)[:MAX_FALLBACK_TEXT]
        ts = await self._status_ts(campaign_id)
        if ts is not None:
            if self._status_text.get(campaign_id) == shown:
                return
            try:
                await self.client.chat_update(channel=thread.channel_id, ts=ts, text=shown)
                self._shown(campaign_id, shown)
                return
            except SlackApiError as exc:
                if exc.response.get("error") not in ("message_not_found", "cant_update_message"):
                    raise
                await self._forget_status(campaign_id)
        resp = await self.client.chat_postMessage(
            channel=thread.channel_id, thread_ts=thread.thread_id, text=shown
        )
        mine = str(resp["ts"])
        theirs = await self._claim_status(campaign_id, mine)
        if theirs is not None and theirs != mine:  # another replica posted first: keep one message
            with contextlib.suppress(SlackApiError):
                await self.client.chat_delete(channel=thread.channel_id, ts=mine)
            await self.client.chat_update(channel=thread.channel_id, ts=theirs, text=shown)
        self._shown(campaign_id, shown)

    def _shown(self, campaign_id: str, text: str) -> None:
        self._status_text[campaign_id] = text
        self._status_text.move_to_end(campaign_id)
        while len(self._status_text) > STATUS_TEXTS_KEPT:
            self._status_text.popitem(last=False)

    # --- internals -------------------------------------------------------------------------------------

    async def _upload(self, thread: ThreadRef, message: Message) -> None:
        """Upload the grid's images into the thread; a failed upload leaves the listing to vote on."""
        uploads: list[dict[str, Any]] = []
        try:
            for img in message.images:
                data = await self._read_artifact(img.artifact)
                title = f"#{img.number}" + (f" {img.caption}" if img.caption else "")
                uploads.append({"file": data, "filename": f"{img.number}.png", "title": title[:250]})
            await self.client.files_upload_v2(
                file_uploads=uploads, channel=thread.channel_id, thread_ts=thread.thread_id
            )
        except (SlackApiError, OSError, KeyError, ValueError) as exc:
            log.warning(
                "uploading %d images for campaign %s failed: %s",
                len(message.images),
                message.campaign_id,
                type(exc).__name__,
            )

    async def _read_artifact(self, key: str) -> bytes:
        if self.read_artifact is None:
            raise KeyError(key)
        return await asyncio.to_thread(self.read_artifact, key)

    async def _status_ts(self, campaign_id: str) -> str | None:
        if self.redis is None:
            return self._status_local.get(campaign_id)
        raw = await self.redis.get(keys.status_message(PLATFORM, campaign_id))
        return as_str(raw) if raw is not None else None

    async def _forget_status(self, campaign_id: str) -> None:
        self._status_text.pop(campaign_id, None)
        if self.redis is None:
            self._status_local.pop(campaign_id, None)
        else:
            await self.redis.delete(keys.status_message(PLATFORM, campaign_id))

    async def _claim_status(self, campaign_id: str, ts: str) -> str | None:
        """Record ``ts`` as the status message unless one is recorded; returns the recorded one."""
        if self.redis is None:
            return self._status_local.setdefault(campaign_id, ts)
        key = keys.status_message(PLATFORM, campaign_id)
        if await self.redis.set(key, ts, nx=True, ex=self.status_ttl_seconds):
            return ts
        raw = await self.redis.get(key)
        await self.redis.expire(key, self.status_ttl_seconds)
        return as_str(raw) if raw is not None else None


def _button(button: Button) -> dict[str, Any]:
    return {
        "type": "button",
        "text": {"type": "plain_text", "text": button.label[:MAX_BUTTON_LABEL], "emoji": True},
        "action_id": button.action_id,
        "value": button.action_id,
    }


def _rows(buttons: list[Button], prefix: str) -> list[dict[str, Any]]:
    return [
        {
            "type": "actions",
            "block_id": f"{prefix}-{i}",
            "elements": [_button(b) for b in buttons[i : i + BUTTONS_PER_ROW]],
        }
        for i in range(0, len(buttons), BUTTONS_PER_ROW)
    ]


def grid_blocks(message: Message) -> list[dict[str, Any]]:
    """The Block Kit listing of a grid: the text, each number with its caption and its buttons."""
    by_number: dict[int, list[Button]] = {}
    loose: list[Button] = []
    for b in message.buttons:
        parsed = parse_action_id(b.action_id)
        if parsed is not None and any(img.number == parsed[2] for img in message.images):
            by_number.setdefault(parsed[2], []).append(b)
        else:
            loose.append(b)
    blocks: list[dict[str, Any]] = [
        {"type": "section", "text": {"type": "mrkdwn", "text": mrkdwn(message.text)[:MAX_SECTION_TEXT]}}
    ]
    for img in message.images:
        caption = f"*#{img.number}*" + (f"  {escape(img.caption)}" if img.caption else "")
        blocks.append(
            {
                "type": "section",
                "block_id": f"cand-{img.number}",
                "text": {"type": "mrkdwn", "text": caption[:MAX_SECTION_TEXT]},
            }
        )
        blocks += _rows(by_number.get(img.number, []), f"act-{img.number}")
    blocks += _rows(loose, "act")
    return blocks[:MAX_BLOCKS]
