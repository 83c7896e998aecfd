"""How the bot's neutral messages look in Slack: ``SlackPresenter`` implements ``bot.ports.Presenter``.

- A campaign thread is a Slack thread: ``open_thread`` posts a parent message ("🎨 <prompt>", naming who
  asked) in the channel, and its ``ts`` is the thread id.
- A grid is the candidates' PNGs uploaded into the thread (files upload v2: getUploadURLExternal →
  upload → completeUploadExternal with ``thread_ts``), each titled with its caption, then one Block Kit
  message listing each caption with that image's buttons. The number reactions are seeded on that
  listing. Both messages are the round's vote targets: people react on the pictures too, so the message
  Slack posted for the files (its ``ts`` comes from ``files.info``'s ``shares``, which Slack fills in
  shortly after the upload) is registered as well. Buttons carry the ``dl:`` action id as ``action_id``
  and ``value``, so they work after a restart.
- A text longer than a section block's 3,000 characters is posted as several messages, in order, split
  like on every platform (``bot.core.text.chunks``); the last one carries the listing and the reactions,
  and listings beyond 50 blocks continue in further messages.
- Each part of a post (the files, every message, every seeded reaction) is recorded in the ``PostLog``
  as it succeeds and skipped when the log has it, so a post interrupted by an error or a rate limit
  resumes where it stopped. A 429 (``chat.update`` and ``reactions.add`` are Tier 3, about 50 a minute)
  raises ``RateLimited`` with Slack's ``Retry-After`` instead of sleeping.
- A status line is a message posted with ``chat.postMessage`` and edited with ``chat.update``; which
  message it is, is the delivery code's to remember.

Message ids handed back to the service are ``"<channel>:<ts>"`` (a ``ts`` is unique only per channel).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
from collections.abc import AsyncIterator, Callable
from typing import Any

from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.async_handler import AsyncRetryHandler
from slack_sdk.http_retry.builtin_async_handlers import (
    AsyncRateLimitErrorRetryHandler,
    async_default_handlers,
)
from slack_sdk.web.async_client import AsyncWebClient

from adapters.slack.emoji import to_slack
from bot.core.messages import Button, Message
from bot.core.model import ThreadRef
from bot.core.text import chunks
from bot.ports import Acting, ActingScope, MessageGone, PostLog, RateLimited

logger = logging.getLogger(__name__)

PLATFORM = "slack"
DEFAULT_API_URL = "https://slack.com/api/"
MAX_SECTION_TEXT = 3000
MAX_FALLBACK_TEXT = 4000
MAX_BUTTON_LABEL = 75
BUTTONS_PER_ROW = 5
MAX_BLOCKS = 50
_GONE = frozenset({"message_not_found", "cant_update_message"})
FILES_PART = "files"
SHARE_LOOKUPS = 6  # files.info reads while Slack shares the uploaded files
SHARE_LOOKUP_WAIT = 0.1  # seconds before the first re-read, doubling
DEFAULT_RETRY_AFTER = 30.0


def api_base_url(api_url: str | None) -> str:
    """The Web API base with the trailing slash slack_sdk expects."""
    url = (api_url or DEFAULT_API_URL).strip()
    return url if url.endswith("/") else url + "/"


def make_client(
    bot_token: str, api_url: str | None = None, *, wait_on_rate_limit: bool = True
) -> AsyncWebClient:
    """A Web API client; with ``wait_on_rate_limit`` it sleeps out a 429 and retries (twice at most)."""
    handlers: list[AsyncRetryHandler] = async_default_handlers()  # connection errors
    if wait_on_rate_limit:
        handlers.append(AsyncRateLimitErrorRetryHandler(max_retry_count=2))
    return AsyncWebClient(token=bot_token, base_url=api_base_url(api_url), retry_handlers=handlers)


def retry_after(exc: SlackApiError) -> float | None:
    """Slack's ``Retry-After`` when ``exc`` is a rate limit (HTTP 429), else None."""
    response = exc.response
    if response.status_code != 429 and response.get("error") != "ratelimited":
        return None
    headers = {str(k).lower(): v for k, v in (response.headers or {}).items()}
    raw = headers.get("retry-after")
    if isinstance(raw, list):
        raw = raw[0] if raw else None
    try:
        return max(0.0, float(raw)) if raw is not None else DEFAULT_RETRY_AFTER
    except (TypeError, ValueError):
        return DEFAULT_RETRY_AFTER


@contextlib.asynccontextmanager
async def rate_limits(what: str) -> AsyncIterator[None]:
    """Turns Slack's 429 into ``RateLimited`` for the caller to retry later."""
    try:
        yield
    except SlackApiError as exc:
        wait = retry_after(exc)
        if wait is not None:
            raise RateLimited(wait, what) from exc
        raise


def escape(text: str) -> str:
    """Slack's three control characters in message text."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def message_id(channel_id: str, ts: str) -> str:
    return f"{channel_id}:{ts}"


def ts_of(message_id: str) -> str:
    return message_id.rpartition(":")[2]


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
        *,
        api_url: str | None = None,
        client: AsyncWebClient | None = None,
        read_artifact: Callable[[str], bytes] | None = None,
    ) -> None:
        self.client = client or make_client(bot_token, api_url, wait_on_rate_limit=False)
        self.read_artifact = read_artifact

    def attach(self, read_artifact: Callable[[str], bytes]) -> None:
        """Give a presenter built before the service the artifact reader."""
        self.read_artifact = read_artifact

    # --- who is acting ------------------------------------------------------------------------------

    @staticmethod
    def acting(user_id: str) -> contextlib.AbstractContextManager[Acting]:
        """Within this block, opened threads are recorded and name ``user_id`` as who started them."""
        return _acting.enter(user_id)

    # --- the Presenter protocol ---------------------------------------------------------------------

    async def open_thread(self, channel_id: str, title: str) -> ThreadRef:
        act = _acting.get()
        text = f"🎨 {escape(title.strip() or 'campaign')}"
        if act is not None:
            text += f"\nstarted by <@{act.user}>"
        try:
            async with rate_limits("chat.postMessage"):
                resp = await self.client.chat_postMessage(channel=channel_id, text=text, unfurl_links=False)
        except SlackApiError as exc:
            if exc.response.get("error") in _NOT_A_MEMBER:
                raise ThreadRefused(channel_id) from exc
            raise
        ref = ThreadRef(platform=PLATFORM, channel_id=channel_id, thread_id=str(resp["ts"]))
        if act is not None:
            act.opened.append(ref)
        return ref

    async def post(self, thread: ThreadRef, message: Message, log: PostLog) -> str:
        votes = message.round_no is not None
        if message.images and await log.done("listing") is None:
            files_message = await self._upload(thread, message, log)
            if files_message is not None and votes:
                await log.vote_target(files_message)
        pieces = [p for p in chunks(mrkdwn(message.text), MAX_SECTION_TEXT) if p.strip()] or ["\u200b"]
        for i, piece in enumerate(pieces[:-1]):
            await self._send(log, f"text-{i}", thread, piece, [_section(piece)])
        listing = listing_blocks(message)
        first, rest = listing[: MAX_BLOCKS - 1], listing[MAX_BLOCKS - 1 :]
        posted = await self._send(log, "listing", thread, pieces[-1], [_section(pieces[-1]), *first])
        for i, start in enumerate(range(0, len(rest), MAX_BLOCKS)):
            await self._send(log, f"more-{i}", thread, "More actions", rest[start : start + MAX_BLOCKS])
        if votes:
            await log.vote_target(posted)
        for emoji in message.reactions:
            name = to_slack(emoji)
            if name is not None:
                await self._seed(log, thread, posted, name)
        if message.files and await log.done("attached-files") is None:
            await self._attach_files(thread, message)
            await log.record("attached-files", "1")
        return posted

    async def post_status(self, thread: ThreadRef, text: str) -> str:
        async with rate_limits("chat.postMessage"):
            resp = await self.client.chat_postMessage(
                channel=thread.channel_id, thread_ts=thread.thread_id, text=_status_text(text)
            )
        return message_id(thread.channel_id, str(resp["ts"]))

    async def edit_status(self, thread: ThreadRef, message_id: str, text: str) -> None:
        try:
            async with rate_limits("chat.update"):
                await self.client.chat_update(
                    channel=thread.channel_id, ts=ts_of(message_id), text=_status_text(text)
                )
        except SlackApiError as exc:
            if exc.response.get("error") in _GONE:
                raise MessageGone(message_id) from exc
            raise

    # --- internals -------------------------------------------------------------------------------------

    async def _send(
        self, log: PostLog, part: str, thread: ThreadRef, text: str, blocks: list[dict[str, Any]]
    ) -> str:
        """Post one message of a post (once: a part the log has is not posted again); its message id."""
        done = await log.done(part)
        if done is not None:
            return done
        async with rate_limits("chat.postMessage"):
            resp = await self.client.chat_postMessage(
                channel=thread.channel_id,
                thread_ts=thread.thread_id,
                text=text[:MAX_FALLBACK_TEXT],
                blocks=blocks,
                unfurl_links=False,
            )
        posted = message_id(thread.channel_id, str(resp["ts"]))
        await log.record(part, posted)
        return posted

    async def _seed(self, log: PostLog, thread: ThreadRef, posted: str, name: str) -> None:
        part = f"reaction-{name}"
        if await log.done(part) is not None:
            return
        try:
            async with rate_limits("reactions.add"):
                await self.client.reactions_add(channel=thread.channel_id, timestamp=ts_of(posted), name=name)
        except SlackApiError as exc:
            if exc.response.get("error") != "already_reacted":
                raise
        await log.record(part, "1")

    async def _upload(self, thread: ThreadRef, message: Message, log: PostLog) -> str | None:
        """Upload the grid's images into the thread; the id of the message Slack shows them in (None when
        Slack did not say, or the upload failed: the listing is still there to vote on)."""
        done = await log.done(FILES_PART)
        if done is not None:
            return done if done.startswith(f"{thread.channel_id}:") else None
        uploads: list[dict[str, Any]] = []
        try:
            for img in message.images:
                data = await self._read_artifact(img.artifact)
                title = img.caption or f"#{img.number}"
                uploads.append({"file": data, "filename": f"{img.number}.png", "title": title[:250]})
            async with rate_limits("files upload"):
                resp = await self.client.files_upload_v2(
                    file_uploads=uploads, channel=thread.channel_id, thread_ts=thread.thread_id
                )
        except (SlackApiError, OSError, KeyError, ValueError) as exc:
            log_upload_failure(message, exc)
            return None
        file_ids = [str(f["id"]) for f in resp.get("files") or [] if f.get("id")]
        shown_in = await self._shared_in(thread, file_ids[0]) if file_ids else None
        await log.record(FILES_PART, shown_in or "1")
        return shown_in

    async def _attach_files(self, thread: ThreadRef, message: Message) -> None:
        """The message's files (a delivery zip, a contact sheet) in the thread, in one upload (Slack's
        limit per file is 1 GB, far above any delivery)."""
        uploads = [
            {"file": await self._read_artifact(f.artifact), "filename": f.name, "title": f.name}
            for f in message.files
        ]
        async with rate_limits("files upload"):
            await self.client.files_upload_v2(
                file_uploads=uploads, channel=thread.channel_id, thread_ts=thread.thread_id
            )

    async def _shared_in(self, thread: ThreadRef, file_id: str) -> str | None:
        """The message id of the thread message that shows ``file_id`` (files.info ``shares``)."""
        wait = SHARE_LOOKUP_WAIT
        for attempt in range(SHARE_LOOKUPS):
            try:
                async with rate_limits("files.info"):
                    info = await self.client.files_info(file=file_id)
            except SlackApiError as exc:
                logger.info(
                    "files.info failed (%s); the pictures are not a vote target", exc.response.get("error")
                )
                return None
            shares = (info.get("file") or {}).get("shares") or {}
            for visibility in ("public", "private"):
                for share in (shares.get(visibility) or {}).get(thread.channel_id) or []:
                    if str(share.get("thread_ts") or "") == thread.thread_id and share.get("ts"):
                        return message_id(thread.channel_id, str(share["ts"]))
            if attempt < SHARE_LOOKUPS - 1:
                await asyncio.sleep(wait)
                wait *= 2
        logger.info("Slack did not say where file %s was shared; the pictures are not a vote target", file_id)
        return None

    async def _read_artifact(self, key: str) -> bytes:
        if self.read_artifact is None:
            raise KeyError(key)
        return await asyncio.to_thread(self.read_artifact, key)


def log_upload_failure(message: Message, exc: Exception) -> None:
    logger.warning(
        "uploading %d images for campaign %s failed: %s",
        len(message.images),
        message.campaign_id,
        type(exc).__name__,
    )


def _status_text(text: str) -> str:
    return mrkdwn(text)[:MAX_FALLBACK_TEXT] or "\u200b"


def _section(text: str, block_id: str | None = None) -> dict[str, Any]:
    block: dict[str, Any] = {"type": "section", "text": {"type": "mrkdwn", "text": text[:MAX_SECTION_TEXT]}}
    if block_id is not None:
        block["block_id"] = block_id
    return block


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


def listing_blocks(message: Message) -> list[dict[str, Any]]:
    """The Block Kit listing under a message's text: each image's caption and its buttons, then the
    message's other buttons."""
    blocks: list[dict[str, Any]] = []
    for img in message.images:
        blocks.append(_section(f"*{escape(img.caption or f'#{img.number}')}*", f"cand-{img.number}"))
        blocks += _rows(img.buttons, f"act-{img.number}")
    blocks += _rows(message.buttons, "act")
    return blocks
