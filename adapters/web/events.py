"""Server-sent events: every open playground page gets new messages, edits and vote changes live.

Each subscriber has a bounded queue. A page that falls too far behind is dropped (its stream ends); the
browser's EventSource reconnects and the page reloads what it shows, so nothing is lost for it.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

QUEUE_LIMIT = 256


@dataclass(eq=False)
class Subscriber:
    user: str
    queue: asyncio.Queue[tuple[str, str] | None] = field(
        default_factory=lambda: asyncio.Queue(maxsize=QUEUE_LIMIT)
    )
    closed: bool = False


class EventHub:
    def __init__(self) -> None:
        self._subscribers: set[Subscriber] = set()
        self._closed = False

    @property
    def subscriber_count(self) -> int:
        return len(self._subscribers)

    def subscribe(self, user: str) -> Subscriber:
        sub = Subscriber(user=user)
        if self._closed:
            sub.closed = True
            sub.queue.put_nowait(None)
        else:
            self._subscribers.add(sub)
        return sub

    def unsubscribe(self, sub: Subscriber) -> None:
        self._subscribers.discard(sub)

    def publish(self, event: str, data: dict[str, Any], visible_to: str | None = None) -> None:
        """Send an event to every page, or only to pages of ``visible_to`` (ephemeral messages)."""
        payload = json.dumps(data, ensure_ascii=False, separators=(",", ":"))
        for sub in list(self._subscribers):
            if visible_to is not None and sub.user != visible_to:
                continue
            try:
                sub.queue.put_nowait((event, payload))
            except asyncio.QueueFull:
                self._drop(sub)

    def _drop(self, sub: Subscriber) -> None:
        self._subscribers.discard(sub)
        sub.closed = True
        while not sub.queue.empty():
            sub.queue.get_nowait()
        sub.queue.put_nowait(None)

    def close(self) -> None:
        """End every stream (server shutdown)."""
        self._closed = True
        for sub in list(self._subscribers):
            self._drop(sub)

    async def stream(self, sub: Subscriber, heartbeat: float = 15.0) -> AsyncIterator[bytes]:
        """Encoded SSE frames for one subscriber; a comment line keeps idle connections open."""
        try:
            while True:
                try:
                    item = await asyncio.wait_for(sub.queue.get(), timeout=heartbeat)
                except TimeoutError:
                    yield b": keep-alive\n\n"
                    continue
                if item is None:
                    return
                event, payload = item
                yield f"event: {event}\ndata: {payload}\n\n".encode()
        finally:
            self.unsubscribe(sub)


async def stream_response(hub: EventHub, request: web.Request) -> web.StreamResponse:
    """``GET /api/events?user=<id>``: the event stream of one page."""
    sub = hub.subscribe(request.query.get("user", ""))
    resp = web.StreamResponse(
        headers={"Content-Type": "text/event-stream", "Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
    )
    await resp.prepare(request)
    with contextlib.suppress(ConnectionResetError, asyncio.CancelledError):
        await resp.write(b"retry: 2000\nevent: hello\ndata: {}\n\n")
        async for frame in hub.stream(sub):
            await resp.write(frame)
    hub.unsubscribe(sub)
    return resp
