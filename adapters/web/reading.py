"""The read-only API: channels and threads, a location's messages, a campaign, engine stats, help, metrics."""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from typing import Any

from aiohttp import web
from pydantic import BaseModel

from adapters.web.errors import RequestError
from adapters.web.events import stream_response
from adapters.web.parsing import clean_text, json_body
from adapters.web.presenter import PLATFORM, message_json
from adapters.web.service_api import WebContext
from bot.core.model import ThreadRef

log = logging.getLogger(__name__)

_CHANNEL_RE = re.compile(r"[a-z0-9][a-z0-9_-]{0,39}")


def jsonable(value: Any) -> Any:
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json")
    if isinstance(value, Mapping):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [jsonable(v) for v in value]
    if value is None or isinstance(value, str | int | float | bool):
        return value
    return str(value)


class ReadingRoutes:
    def __init__(self, ctx: WebContext) -> None:
        self.ctx = ctx

    def add_to(self, router: web.UrlDispatcher) -> None:
        router.add_get("/api/health", self.health)
        router.add_get("/api/channels", self.channels)
        router.add_post("/api/channels", self.create_channel)
        router.add_get("/api/messages", self.messages)
        router.add_get("/api/campaign/{campaign_id}", self.campaign)
        router.add_get("/api/stats", self.stats)
        router.add_get("/api/help", self.help)
        router.add_get("/api/events", self.events)
        router.add_get("/metrics", self.metrics)

    async def health(self, request: web.Request) -> web.Response:
        return web.json_response({"ok": True, "platform": PLATFORM})

    async def channels(self, request: web.Request) -> web.Response:
        presenter = self.ctx.presenter
        out = []
        for channel in presenter.state.channels.values():
            known: dict[str, tuple[str, str]] = {}  # thread -> (campaign, stage)
            try:
                for camp in await self.ctx.service.campaigns_in_channel(PLATFORM, channel.id):
                    known[camp.thread.thread_id] = (camp.id, str(camp.stage.value))
            except Exception:  # the list still shows without stages
                log.exception("campaigns_in_channel failed")
            threads = []
            for t in presenter.threads_in(channel.id):
                item = presenter.thread_json(t)
                campaign_id, stage = known.get(t.id, ("", None))
                item["campaign_id"] = t.campaign_id or campaign_id
                item["stage"] = stage
                threads.append(item)
            out.append({**channel.model_dump(), "threads": threads})
        return web.json_response({"channels": out})

    async def create_channel(self, request: web.Request) -> web.Response:
        body = await json_body(request)
        name = clean_text(str(body.get("name", ""))).strip().lstrip("#").lower().replace(" ", "-")
        if not _CHANNEL_RE.fullmatch(name):
            raise RequestError(400, "a channel name is 1-40 letters, digits, - or _")
        channel = self.ctx.presenter.ensure_channel(name)
        return web.json_response({"channel": channel.model_dump()})

    async def messages(self, request: web.Request) -> web.Response:
        presenter = self.ctx.presenter
        channel_id = request.query.get("channel_id", "")
        thread_id = request.query.get("thread_id") or None
        user = request.query.get("user", "")
        if channel_id not in presenter.state.channels:
            raise RequestError(404, f"no channel {clean_text(channel_id)!r}")
        msgs = presenter.messages(channel_id, thread_id, user)
        thread = presenter.thread(thread_id) if thread_id else None
        info = presenter.thread_json(thread) if thread else None
        if thread is not None and info is not None and not thread.campaign_id:
            # a thread whose campaign posted only its status line yet
            ref = ThreadRef(platform=PLATFORM, channel_id=channel_id, thread_id=thread.id)
            found = await self.ctx.service.campaign_for_thread(ref)
            info["campaign_id"] = found.id if found is not None else ""
        return web.json_response({"messages": [message_json(m) for m in msgs], "thread": info})

    async def campaign(self, request: web.Request) -> web.Response:
        from bot.core.ledger import cost_text, summarize

        service = self.ctx.service
        camp = await service.campaign(request.match_info["campaign_id"])
        if camp is None:
            raise RequestError(404, "no such campaign")
        votes: dict[str, int] = {}
        rnd = camp.current_round
        if rnd is not None:
            counts = await service.vote_counts(camp.id, rnd.number)
            votes = {str(k): int(v) for k, v in counts.items()}
        return web.json_response(
            {
                "campaign": camp.model_dump(mode="json"),
                "cost_text": cost_text(camp),
                "cost": jsonable(summarize(camp)),
                "votes": votes,
                "spent_seconds": camp.spent_seconds(),
            }
        )

    async def stats(self, request: web.Request) -> web.Response:
        return web.json_response({"stats": jsonable(await self.ctx.service.engine_stats())})

    async def metrics(self, request: web.Request) -> web.Response:
        from bot.metrics import prometheus_text

        stats = await self.ctx.service.engine_stats()
        return web.Response(text=prometheus_text(stats), content_type="text/plain", charset="utf-8")

    async def help(self, request: web.Request) -> web.Response:
        from bot.core.grammar import help_text

        return web.json_response({"text": help_text()})

    async def events(self, request: web.Request) -> web.StreamResponse:
        return await stream_response(self.ctx.presenter.hub, request)
