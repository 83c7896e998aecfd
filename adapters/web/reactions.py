"""Reactions (``/api/react``): number reactions under a voting grid are votes, the service decides.

The page shows a vote only once the service counted it: after the service call, the person's number
reactions on that grid are set from the round's tally, so a vote the round refused, or a removal after
the round closed (the vote stays), shows as what the service holds. One person's reactions on one message
are applied in order (a lock per message and person), so a quick react/unreact pair leaves the page and
the votes agreeing. Any other reaction is a plain chat reaction, shown as asked.
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import Any, TypeVar

from aiohttp import web

from adapters.web.errors import RequestError
from adapters.web.history import WebMessage
from adapters.web.parsing import clean_text, flag, json_body, request_id, user_from
from adapters.web.presenter import PLATFORM, message_json
from adapters.web.service_api import WebContext
from bot.core.messages import NUMBER_EMOJI
from bot.core.model import User
from bot.keyed_locks import KeyedLocks

MAX_EMOJI_CHARS = 16
RESYNC_EVERY_SECONDS = 0.5
RESYNC_FOR_SECONDS = 120.0

T = TypeVar("T")


class ReactionRoutes:
    def __init__(self, ctx: WebContext) -> None:
        self.ctx = ctx
        self.locks = KeyedLocks()
        self.background: set[asyncio.Task[Any]] = set()

    def add_to(self, router: web.UrlDispatcher) -> None:
        router.add_post("/api/react", self.react)

    async def react(self, request: web.Request) -> web.Response:
        presenter = self.ctx.presenter
        event_id = request_id(request)
        body = await json_body(request)
        user = user_from(body)
        msg = presenter.message(str(body.get("message_id", "")))
        emoji = clean_text(str(body.get("emoji", "")))
        if msg is None or (msg.visible_to is not None and msg.visible_to != user.id):
            raise RequestError(404, "no such message")
        if not emoji or len(emoji) > MAX_EMOJI_CHARS:
            raise RequestError(400, "emoji missing")
        toggle = "added" not in body
        added = None if toggle else flag(body["added"])
        if not toggle and added is None:
            raise RequestError(400, 'added must be true or false (or "true", "false", "1", "0")')

        # Once the service may count the vote, the page must show it even if the client goes away.
        refusal, shown, added = await asyncio.shield(
            self._in_background(self._count_and_show(msg, emoji, user, added, event_id))
        )
        if refusal is None and shown != added:
            refusal = (
                f"Round {msg.round_no} is closed, so your vote stays."
                if not added
                else "That reaction did not count as a vote."
            )
        reply = presenter.add_reply(msg.channel_id, msg.thread_id, user.id, refusal) if refusal else None
        answer: dict[str, Any] = {
            "ok": shown == added,
            "refusal": refusal,
            "reply": message_json(reply) if reply else None,
            "reactions": message_json(msg)["reactions"],
        }
        return web.json_response(answer)

    def _in_background(self, work: Coroutine[Any, Any, T]) -> asyncio.Task[T]:
        task = asyncio.create_task(work)
        self.background.add(task)
        task.add_done_callback(self._forget)
        return task

    def _forget(self, task: asyncio.Task[Any]) -> None:
        self.background.discard(task)
        if not task.cancelled():
            task.exception()  # the request that waited on it answered with it (or had gone)

    async def _count_and_show(
        self, msg: WebMessage, emoji: str, user: User, added: bool | None, event_id: str | None
    ) -> tuple[str | None, bool, bool]:
        """The service's answer, then the page's reactions; returns (refusal, shown, added)."""
        async with self.locks.hold((msg.id, user.id)):
            if added is None:  # a toggle, read under the lock so two toggles make a pair
                added = user.id not in msg.reactions.get(emoji, [])
            try:
                refusal = await self.ctx.service.handle_reaction(
                    PLATFORM, msg.id, emoji, user, added, event_id=event_id
                )
            except Exception:
                # the vote may have been stored before the failure: show what the service holds
                await self._show_votes_or_resync(msg, user)
                raise
            if emoji not in await self._show_votes(msg, user):
                self.ctx.presenter.set_reaction(msg.id, emoji, user.id, added)
            return refusal, user.id in msg.reactions.get(emoji, []), added

    async def _show_votes_or_resync(self, msg: WebMessage, user: User) -> None:
        try:
            await self._show_votes(msg, user)
        except Exception:
            self._in_background(self._resync(msg, user))

    async def _resync(self, msg: WebMessage, user: User) -> None:
        """Retry showing ``user``'s votes until the service can be read again (Redis coming back)."""
        deadline = asyncio.get_running_loop().time() + RESYNC_FOR_SECONDS
        while asyncio.get_running_loop().time() < deadline:
            await asyncio.sleep(RESYNC_EVERY_SECONDS)
            async with self.locks.hold((msg.id, user.id)):
                try:
                    await self._show_votes(msg, user)
                except Exception:
                    continue
                return

    async def _show_votes(self, msg: WebMessage, user: User) -> set[str]:
        """Set ``user``'s number reactions on a voting grid from the votes the service holds; returns
        their emoji."""
        if msg.round_no is None or not msg.campaign_id:
            return set()
        votes = {emoji: image.number for emoji, image in zip(NUMBER_EMOJI, msg.images, strict=False)}
        mine = await self.ctx.service.votes_of(msg.campaign_id, msg.round_no, list(votes.values()), user.id)
        for emoji, number in votes.items():
            self.ctx.presenter.set_reaction(msg.id, emoji, user.id, number in mine)
        return set(votes)
