"""What people type and press: ``/api/send`` (a command, with attachments) and ``/api/press`` (a button).

The service acts once per event: the request id (``X-Request-Id``) is its event id, so a retried delivery
is answered without acting again. The typed message's id derives from the same id, so it shows once too,
and a retry of a ``/draft`` whose first answer was lost finds the thread it opened. A command that parses
is shown to everyone where it was typed ("ana used /draft …"), before the bot's answer; one that doesn't
is shown only to its author, with the answer saying why.
"""

from __future__ import annotations

import hashlib
import logging
from typing import Any

from aiohttp import web

from adapters.web.errors import RequestError
from adapters.web.parsing import clean_text, json_body, read_form, request_id, user_from
from adapters.web.presenter import PLATFORM, message_json
from adapters.web.service_api import WebContext
from bot.core.commands import CommandError
from bot.core.grammar import parse

log = logging.getLogger(__name__)

MAX_ACTION_CHARS = 200


def typed_message_id(event_id: str | None) -> str | None:
    """The id of the message a person typed, stable across retries of the same request."""
    if event_id is None:
        return None
    return "u" + hashlib.sha256(event_id.encode()).hexdigest()[:16]


class CommandRoutes:
    def __init__(self, ctx: WebContext) -> None:
        self.ctx = ctx

    def add_to(self, router: web.UrlDispatcher) -> None:
        router.add_post("/api/send", self.send)
        router.add_post("/api/press", self.press)

    async def send(self, request: web.Request) -> web.Response:
        presenter = self.ctx.presenter
        event_id = request_id(request)
        form = await read_form(request, self.ctx.max_upload_bytes)
        f = form.fields
        user = user_from(f)
        channel_id = f.get("channel_id", "")
        thread_id = f.get("thread_id") or None
        text = f.get("text", "").strip()
        if channel_id not in presenter.state.channels:
            raise RequestError(404, f"no channel {channel_id!r}")
        if thread_id is not None and presenter.thread(thread_id) is None:
            raise RequestError(404, f"no thread {thread_id!r}")
        if not text:
            raise RequestError(400, "type a command, e.g. /draft a red fox in snow --n 8")
        typed_id = typed_message_id(event_id)
        seen_before = typed_id is not None and presenter.message(typed_id) is not None
        # a command the team can see goes up where it was typed, before the bot acts on it, so it reads
        # above the bot's answer; one that doesn't parse stays between its author and the bot
        shared = not isinstance(parse(text), CommandError)
        echo = presenter.message(typed_id) if seen_before and typed_id is not None else None
        if shared and echo is None:
            echo = presenter.add_user_message(
                typed_id, channel_id, thread_id, user.id, text, sorted(form.files), visible_to=None
            )

        with presenter.acting(user.id) as act:
            try:
                replies = await self.ctx.service.handle_text(
                    PLATFORM, channel_id, thread_id, user, text, attachments=form.files, event_id=event_id
                )
            except Exception:
                for ref in act.opened:  # a thread the failed command opened, with nothing in it
                    presenter.drop_empty_thread(ref.thread_id)
                raise
        opened = act.opened[0].thread_id if act.opened else None
        if opened is None and typed_id is not None:
            earlier = presenter.thread_opened_by(typed_id)
            opened = earlier.id if earlier is not None else None
        where = opened or thread_id
        if echo is None:
            echo = presenter.add_user_message(
                typed_id, channel_id, where, user.id, text, sorted(form.files), visible_to=user.id
            )
        if opened is not None and typed_id is not None:
            presenter.set_thread_source(opened, typed_id)
        reply_msgs = [presenter.add_reply(channel_id, where, user.id, r) for r in replies]
        answer: dict[str, Any] = {
            "replies": replies,
            "opened_thread": opened,
            "messages": [message_json(echo)] + [message_json(m) for m in reply_msgs],
        }
        if seen_before:
            answer["duplicate"] = True
        return web.json_response(answer)

    async def press(self, request: web.Request) -> web.Response:
        presenter = self.ctx.presenter
        event_id = request_id(request)
        body = await json_body(request)
        user = user_from(body)
        action = clean_text(str(body.get("action_id", "")))
        if not action.startswith("dl:") or len(action) > MAX_ACTION_CHARS:
            raise RequestError(400, "not a draftloop button")
        msg = presenter.message(str(body.get("message_id", "")))
        with presenter.acting(user.id):
            replies = await self.ctx.service.handle_action(PLATFORM, action, user, event_id=event_id)
        reply_msgs = []
        if msg is not None:
            reply_msgs = [presenter.add_reply(msg.channel_id, msg.thread_id, user.id, r) for r in replies]
        return web.json_response({"replies": replies, "messages": [message_json(m) for m in reply_msgs]})
