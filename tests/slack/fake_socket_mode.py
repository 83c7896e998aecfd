"""Slack's Socket Mode side of ``FakeSlack``: the WebSocket that ``apps.connections.open`` hands out.

On connect the server sends ``hello``; ``send`` then pushes an envelope
``{"envelope_id", "type": "events_api" | "slash_commands" | "interactive", "payload", ...}`` to the
connected app and waits for its acknowledgement ``{"envelope_id"[, "payload"]}``. An envelope left
unacknowledged is sent again (``retry_attempt`` counts up), as Slack does.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import secrets
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from aiohttp import WSMsgType, web

if TYPE_CHECKING:
    from tests.slack.fake_slack import FakeSlack

ACK_SECONDS = 3.0  # Slack's time to acknowledge an envelope


@dataclass
class Acked:
    envelope_id: str
    payload: dict[str, Any] | None


class NotConnected(Exception):
    """No app holds a Socket Mode connection."""


class FakeSocketMode:
    def __init__(self, fake: FakeSlack) -> None:
        self.fake = fake
        self.issued: set[str] = set()  # sessions apps.connections.open handed out, each usable once
        self.connections: list[web.WebSocketResponse] = []
        self.envelopes: list[dict[str, Any]] = []  # everything sent, retries included
        self.acks: list[Acked] = []
        self.unexpected: list[str] = []  # frames from the app that are not acks of sent envelopes
        self._waiting: dict[str, asyncio.Future[Acked]] = {}
        self._ids = itertools.count(1)
        self.connected = asyncio.Event()

    def new_session(self) -> str:
        session = secrets.token_hex(8)
        self.issued.add(session)
        return session

    async def serve(self, request: web.Request) -> web.StreamResponse:
        session = request.match_info["session"]
        if session not in self.issued:
            return web.Response(status=404, text="unknown or used connection")
        self.issued.discard(session)
        ws = web.WebSocketResponse(autoping=True)
        await ws.prepare(request)
        self.connections.append(ws)
        hello = {
            "type": "hello",
            "num_connections": len(self.connections),
            "debug_info": {"host": "fake-slack", "approximate_connection_time": 3600},
            "connection_info": {"app_id": "A0APP"},
        }
        await ws.send_str(json.dumps(hello))
        self.connected.set()
        try:
            async for frame in ws:
                if frame.type == WSMsgType.TEXT:
                    self._receive(frame.data)
        finally:
            self.connections.remove(ws)
            if not self.connections:
                self.connected.clear()
        return ws

    def _receive(self, data: str) -> None:
        try:
            ack = json.loads(data)
        except ValueError:
            self.unexpected.append(data)
            return
        envelope_id = str(ack.get("envelope_id", "")) if isinstance(ack, dict) else ""
        waiter = self._waiting.pop(envelope_id, None)
        if waiter is None:
            self.unexpected.append(data)
            return
        acked = Acked(envelope_id, ack.get("payload"))
        self.acks.append(acked)
        if not waiter.done():
            waiter.set_result(acked)

    async def send(self, kind: str, payload: dict[str, Any], *, retries: int = 1) -> Acked | None:
        """Push one envelope to the app; the app's ack, or None when none came after ``retries`` resends."""
        if not self.connections:
            raise NotConnected("no Socket Mode connection is open")
        envelope_id = f"env-{next(self._ids):06d}-{secrets.token_hex(4)}"
        for attempt in range(retries + 1):
            envelope = {
                "envelope_id": envelope_id,
                "type": kind,
                "payload": payload,
                "accepts_response_payload": kind != "events_api",
                "retry_attempt": attempt,
                "retry_reason": "timeout" if attempt else "",
            }
            waiter: asyncio.Future[Acked] = asyncio.get_running_loop().create_future()
            self._waiting[envelope_id] = waiter
            self.envelopes.append(envelope)
            await self.connections[-1].send_str(json.dumps(envelope))
            try:
                return await asyncio.wait_for(waiter, ACK_SECONDS)
            except TimeoutError:
                self._waiting.pop(envelope_id, None)
        return None

    async def disconnect_all(self) -> None:
        """Close every connection, as Slack does when it refreshes them (the app opens a new one)."""
        for ws in list(self.connections):
            await ws.close()

    async def close(self) -> None:
        await self.disconnect_all()
        for waiter in self._waiting.values():
            waiter.cancel()
        self._waiting.clear()
