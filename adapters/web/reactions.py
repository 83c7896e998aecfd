"""Reactions (``/api/react``): number reactions under a voting grid are votes, the service decides.

The page shows a vote only once the service counted it: after the service call, the person's number
reactions on that grid are set from the round's tally, so a vote the round refused, or a removal after
the round closed (the vote stays), shows as what the service holds. One person's reactions on one message
are applied in order (a lock per message and person), so a quick react/unreact pair leaves the page and
the votes agreeing. Any other reaction is a plain chat reaction, shown as asked.
"""

from __future__ import annotations

from typing import Any

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


class ReactionRoutes:
    def __init__(self, ctx: WebContext) -> None:
        self.ctx = ctx
        self.locks = KeyedLocks()

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

        async with self.locks.hold((msg.id, user.id)):
            if added is None:  # a toggle, read under the lock so two toggles make a pair
                added = user.id not in msg.reactions.get(emoji, [])
            refusal = await self.ctx.service.handle_reaction(
                PLATFORM, msg.id, emoji, user, added, event_id=event_id
            )
            if emoji not in await self._show_votes(msg, user):
                presenter.set_reaction(msg.id, emoji, user.id, added)
            shown = user.id in msg.reactions.get(emoji, [])
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

    async def _show_votes(self, msg: WebMessage, user: User) -> set[str]:
        """Set ``user``'s number reactions on a voting grid from the service's tally; returns their emoji."""
        if msg.round_no is None or not msg.campaign_id:
            return set()
        tally = await self.ctx.service.tally(msg.campaign_id, msg.round_no)
        votes = {emoji: image.number for emoji, image in zip(NUMBER_EMOJI, msg.images, strict=False)}
        for emoji, number in votes.items():
            voters = {voter for voter, _ in tally.get(number, [])}
            self.ctx.presenter.set_reaction(msg.id, emoji, user.id, user.id in voters)
        return set(votes)
