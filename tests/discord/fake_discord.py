"""A local stand-in for Discord: REST API v10, gateway v10 (JSON text frames) and a CDN, on 127.0.0.1.

It implements what the adapter uses and records everything the bot did. Helpers inject what people do:
a slash command, a reaction (added or removed) and a button press, as a given user with roles. A user in
``dms_closed`` accepts no direct messages (Discord's 403, code 50007), as with DMs turned off. Every
dispatched gateway frame keeps its sequence number, so ``redeliver`` can send the same event again, as
a resumed gateway session does.

It enforces Discord's documented limits: 2000 characters per message, ten attachments, the guild's upload
limit (HTTP 413), and 429 with ``retry_after`` (and the ``Via`` header Discord's proxies add) on reactions
and edits made too fast in one channel. ``reaction_429s`` answers that many reaction calls with 429 in a
row, whatever their pace.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from aiohttp import WSMsgType, web

GUILD_ID = "900000000000000001"
CHANNEL_ID = "900000000000000010"
FORUM_ID = "900000000000000011"
ANNOUNCEMENTS_ID = "900000000000000012"
BOT_ID = "900000000000000100"
APPROVER_ROLE_ID = "900000000000000201"
HEARTBEAT_MS = 41250
MAX_CONTENT = 2000
MAX_FILES = 10
UPLOAD_LIMIT = 10 * 1024 * 1024  # an unboosted guild's Guild.filesize_limit
REACTION_INTERVAL = 0.25  # seconds between the bot's reactions in one channel
EDITS_PER_WINDOW, EDIT_WINDOW = 5, 5.0  # message edits per channel


async def eventually(what: str, check: Callable[[], Any], within: float = 20.0) -> Any:
    """Poll ``check()`` until it is truthy (returns its value); fail after ``within`` seconds."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while True:
        value = check()
        if value:
            return value
        if loop.time() > deadline:
            raise AssertionError(f"gave up waiting for {what} after {within:.0f} s")
        await asyncio.sleep(0.01)


def json_response(data: Any, status: int = 200) -> web.Response:
    """JSON with Discord's exact content type (discord.py compares it literally)."""
    headers = {"Content-Type": "application/json"}
    return web.Response(body=json.dumps(data).encode(), status=status, headers=headers)


def invalid_form(field: str, why: str) -> web.Response:
    """Discord's 400 for a field over its limit (code 50035, Invalid Form Body)."""
    errors = {field: {"_errors": [{"code": "BASE_TYPE_MAX_LENGTH", "message": why}]}}
    return json_response({"message": "Invalid Form Body", "code": 50035, "errors": errors}, status=400)


def path_of(parts: list[str]) -> str:
    return "/" + "/".join(parts)


def _now() -> str:
    return datetime.now(UTC).isoformat()


@dataclass
class Call:
    method: str
    path: str
    body: Any = None


@dataclass
class FakeMessage:
    data: dict[str, Any]
    files: dict[str, bytes] = field(default_factory=dict)
    reactions: dict[str, list[str]] = field(default_factory=dict)  # emoji -> user ids, in order
    edits: int = 0

    @property
    def id(self) -> str:
        return str(self.data["id"])

    @property
    def content(self) -> str:
        return str(self.data.get("content") or "")

    def custom_ids(self) -> list[str]:
        return [c["custom_id"] for row in self.data.get("components", []) for c in row.get("components", [])]


@dataclass
class Interaction:
    id: str
    token: str
    callbacks: list[dict[str, Any]] = field(default_factory=list)
    followups: list[dict[str, Any]] = field(default_factory=list)


class FakeDiscord:
    def __init__(self) -> None:
        self._ids = itertools.count(910_000_000_000_000_000)
        self.port = 0
        self._runner: web.AppRunner | None = None
        self.bot = self._user_payload(BOT_ID, "draftloop", bot=True)
        self.users: dict[str, dict[str, Any]] = {BOT_ID: self.bot}
        self.member_roles: dict[str, list[str]] = {BOT_ID: []}
        self.roles = [
            self._role(GUILD_ID, "@everyone", 0),
            self._role(APPROVER_ROLE_ID, "approver", 1),
        ]
        self.channels: dict[str, dict[str, Any]] = {
            CHANNEL_ID: self._text_channel(CHANNEL_ID, 0, "general", 0),
            FORUM_ID: {
                **self._text_channel(FORUM_ID, 15, "ideas", 1),
                "available_tags": [],
                "default_reaction_emoji": None,
                "default_sort_order": None,
                "default_forum_layout": 0,
                "default_thread_rate_limit_per_user": 0,
                "flags": 0,
            },
            ANNOUNCEMENTS_ID: self._text_channel(ANNOUNCEMENTS_ID, 5, "news", 2),
        }
        self.premium_tier = 0
        self.upload_limit = UPLOAD_LIMIT
        self.reaction_429s = 0
        self.rate_limited: list[Call] = []  # calls answered 429
        self._last_reaction: dict[str, float] = {}  # channel -> time of the last accepted reaction
        self._edits: dict[str, list[float]] = {}  # channel -> times of recent accepted edits
        self.messages: dict[str, FakeMessage] = {}
        self.calls: list[Call] = []
        self.commands: dict[str, list[dict[str, Any]]] = {}  # "global" or guild id -> registered commands
        self.interactions: dict[str, Interaction] = {}
        self.cdn: dict[str, bytes] = {}
        self.cdn_hits: list[str] = []
        self.other_hits: list[str] = []  # requests for paths this server does not serve
        self.identifies: list[dict[str, Any]] = []
        self._sockets: list[web.WebSocketResponse] = []
        self._seq = 0
        self._session = ""
        self.frames: list[dict[str, Any]] = []  # dispatched gateway frames, in order
        self.dms_closed: set[str] = set()  # user ids that accept no direct messages
        self.deleted: list[FakeMessage] = []  # messages deleted through the API, in order
        self.no_thread_permission: set[str] = set()  # channel ids where the bot may not open threads

    # --- server -------------------------------------------------------------------------------------------

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def api_base(self) -> str:
        return f"{self.base}/api/v10"

    async def start(self) -> None:
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_get("/gateway", self._gateway)
        app.router.add_get("/cdn/{path:.*}", self._cdn)
        app.router.add_route("*", "/api/v10/{path:.*}", self._rest)
        app.router.add_route("*", "/{path:.*}", self._other)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        server = site._server
        assert server is not None
        self.port = server.sockets[0].getsockname()[1]  # type: ignore[attr-defined]

    async def stop(self) -> None:
        for ws in list(self._sockets):
            await ws.close()
        if self._runner is not None:
            await self._runner.cleanup()

    async def wait_for(self, what: str, check: Callable[[], Any], within: float = 20.0) -> Any:
        """Wait (bounded) until ``check()`` is truthy; returns its value."""
        return await eventually(what, check, within)

    # --- people -------------------------------------------------------------------------------------------

    def add_user(self, name: str, *, roles: tuple[str, ...] = ()) -> dict[str, Any]:
        uid = str(next(self._ids))
        self.users[uid] = self._user_payload(uid, name)
        self.member_roles[uid] = list(roles)
        return self.users[uid]

    def member(self, user_id: str) -> dict[str, Any]:
        return {
            "user": self.users[user_id],
            "roles": self.member_roles.get(user_id, []),
            "joined_at": _now(),
            "deaf": False,
            "mute": False,
            "flags": 0,
            "pending": False,
            "nick": None,
            "avatar": None,
            "permissions": "0",
        }

    # --- what the tests inject ----------------------------------------------------------------------------

    async def slash(
        self,
        user: dict[str, Any],
        name: str,
        options: dict[str, Any],
        *,
        channel_id: str = CHANNEL_ID,
        attachments: dict[str, dict[str, Any]] | None = None,
        subcommand: str | None = None,
    ) -> Interaction:
        """A slash command; ``attachments`` maps an option name to an attachment object."""
        opts: list[dict[str, Any]] = []
        for key, value in options.items():
            kind = (
                5
                if isinstance(value, bool)
                else 4
                if isinstance(value, int)
                else 10
                if isinstance(value, float)
                else 3
            )
            opts.append({"name": key, "type": kind, "value": value})
        resolved: dict[str, Any] = {}
        for key, att in (attachments or {}).items():
            opts.append({"name": key, "type": 11, "value": att["id"]})
            resolved.setdefault("attachments", {})[att["id"]] = att
        if subcommand is not None:
            opts = [{"name": subcommand, "type": 1, "options": opts}]
        data: dict[str, Any] = {
            "id": str(next(self._ids)),
            "name": name,
            "type": 1,
            "options": opts,
            "guild_id": GUILD_ID,
        }
        if resolved:
            data["resolved"] = resolved
        return await self._interaction(user, 2, data, channel_id)

    async def press(self, user: dict[str, Any], message_id: str, custom_id: str) -> Interaction:
        msg = self.messages[message_id]
        data = {"custom_id": custom_id, "component_type": 2}
        return await self._interaction(user, 3, data, str(msg.data["channel_id"]), message=msg.data)

    async def react(self, user_id: str, message_id: str, emoji: str, *, added: bool = True) -> dict[str, Any]:
        """A reaction by ``user_id``, as the gateway dispatches it; returns the frame."""
        msg = self.messages[message_id]
        users = msg.reactions.setdefault(emoji, [])
        if added and user_id not in users:
            users.append(user_id)
        if not added and user_id in users:
            users.remove(user_id)
        data: dict[str, Any] = {
            "user_id": user_id,
            "channel_id": msg.data["channel_id"],
            "message_id": message_id,
            "guild_id": GUILD_ID,
            "emoji": {"id": None, "name": emoji},
            "burst": False,
            "type": 0,
        }
        if added:
            data["member"] = self.member(user_id)
            data["message_author_id"] = msg.data["author"]["id"]
            data["burst_colors"] = []
        return await self.dispatch("MESSAGE_REACTION_ADD" if added else "MESSAGE_REACTION_REMOVE", data)

    async def dispatch(self, event: str, data: dict[str, Any]) -> dict[str, Any]:
        self._seq += 1
        frame = {"op": 0, "t": event, "s": self._seq, "d": data}
        self.frames.append(frame)
        await self._send(frame)
        return frame

    async def redeliver(self, frame: dict[str, Any]) -> None:
        """Send a frame again, sequence number and all."""
        await self._send(frame)

    async def _send(self, frame: dict[str, Any]) -> None:
        for ws in list(self._sockets):
            if not ws.closed:
                await ws.send_str(json.dumps(frame))

    async def _interaction(
        self,
        user: dict[str, Any],
        kind: int,
        data: dict[str, Any],
        channel_id: str,
        message: dict[str, Any] | None = None,
    ) -> Interaction:
        inter = Interaction(id=str(next(self._ids)), token="itok-" + secrets.token_hex(8))
        self.interactions[inter.token] = inter
        self.interactions[inter.id] = inter
        payload: dict[str, Any] = {
            "id": inter.id,
            "application_id": BOT_ID,
            "type": kind,
            "data": data,
            "guild_id": GUILD_ID,
            "channel_id": channel_id,
            "channel": self.channels[channel_id],
            "member": self.member(user["id"]),
            "token": inter.token,
            "version": 1,
            "app_permissions": "0",
            "locale": "en-US",
            "guild_locale": "en-US",
            "entitlements": [],
            "authorizing_integration_owners": {},
            "context": 0,
            "attachment_size_limit": 10 * 1024 * 1024,
        }
        if message is not None:
            payload["message"] = message
        await self.dispatch("INTERACTION_CREATE", payload)
        return inter

    # --- what the tests read ------------------------------------------------------------------------------

    def in_channel(self, channel_id: str) -> list[FakeMessage]:
        return [m for m in self.messages.values() if m.data["channel_id"] == channel_id]

    def threads(self) -> list[dict[str, Any]]:
        return [c for c in self.channels.values() if c["type"] == 11]

    def bot_reactions(self, message_id: str) -> list[str]:
        return [e for e, users in self.messages[message_id].reactions.items() if BOT_ID in users]

    def reactors(self, message_id: str, emoji: str) -> list[str]:
        return list(self.messages[message_id].reactions.get(emoji, []))

    def dms_to(self, user_id: str) -> list[FakeMessage]:
        """The direct messages the bot sent to a user."""
        dm_ids = {
            cid
            for cid, c in self.channels.items()
            if c["type"] == 1 and any(r["id"] == user_id for r in c["recipients"])
        }
        return [m for m in self.messages.values() if m.data["channel_id"] in dm_ids]

    def attachment(self, filename: str, data: bytes, *, url: str | None = None) -> dict[str, Any]:
        """An uploaded attachment served by the fake CDN (or at ``url``, which this server may not serve)."""
        aid = str(next(self._ids))
        path = f"attachments/{CHANNEL_ID}/{aid}/{filename}"
        self.cdn[path] = data
        return {
            "id": aid,
            "filename": filename,
            "size": len(data),
            "url": url or f"{self.base}/cdn/{path}",
            "proxy_url": url or f"{self.base}/cdn/{path}",
            "content_type": "image/png",
        }

    # --- gateway ------------------------------------------------------------------------------------------

    async def _gateway(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        self._sockets.append(ws)
        hello = {"op": 10, "d": {"heartbeat_interval": HEARTBEAT_MS}, "s": None, "t": None}
        await ws.send_str(json.dumps(hello))
        try:
            async for msg in ws:
                if msg.type != WSMsgType.TEXT:
                    continue
                frame = json.loads(msg.data)
                op = frame.get("op")
                if op == 1:
                    await ws.send_str(json.dumps({"op": 11, "d": None, "s": None, "t": None}))
                elif op == 2:
                    self.identifies.append({k: v for k, v in frame["d"].items() if k != "token"})
                    await self._ready()
        finally:
            self._sockets.remove(ws)
        return ws

    async def _ready(self) -> None:
        self._session = secrets.token_hex(16)
        await self.dispatch(
            "READY",
            {
                "v": 10,
                "user": self.bot,
                "guilds": [{"id": GUILD_ID, "unavailable": True}],
                "session_id": self._session,
                "resume_gateway_url": f"ws://127.0.0.1:{self.port}/gateway",
                "application": {"id": BOT_ID, "flags": 0},
                "private_channels": [],
                "relationships": [],
            },
        )
        await self.dispatch(
            "GUILD_CREATE",
            {
                "id": GUILD_ID,
                "name": "draftloop test",
                "icon": None,
                "owner_id": "1",
                "unavailable": False,
                "roles": self.roles,
                "emojis": [],
                "stickers": [],
                "features": [],
                "member_count": len(self.users),
                "channels": [c for c in self.channels.values() if c["type"] != 11],
                "threads": self.threads(),
                "members": [self.member(uid) for uid in self.users],
                "voice_states": [],
                "presences": [],
                "large": False,
                "verification_level": 0,
                "default_message_notifications": 0,
                "explicit_content_filter": 0,
                "mfa_level": 0,
                "premium_tier": self.premium_tier,
                "preferred_locale": "en-US",
                "nsfw_level": 0,
                "joined_at": _now(),
                "system_channel_flags": 0,
            },
        )

    # --- CDN and the rest ---------------------------------------------------------------------------------

    async def _cdn(self, request: web.Request) -> web.Response:
        path = request.match_info["path"]
        self.cdn_hits.append(path)
        if path not in self.cdn:
            return web.Response(status=404)
        return web.Response(body=self.cdn[path], content_type="image/png")

    async def _other(self, request: web.Request) -> web.Response:
        self.other_hits.append(request.path)
        return web.Response(status=404)

    # --- REST ---------------------------------------------------------------------------------------------

    async def _rest(self, request: web.Request) -> web.StreamResponse:
        path = "/" + request.match_info["path"]
        parts = [p for p in path.split("/") if p]
        method = request.method
        body, files = await self._body(request)
        self.calls.append(Call(method, path, body))
        return await self._route(method, parts, body, files)

    async def _body(self, request: web.Request) -> tuple[Any, dict[str, bytes]]:
        files: dict[str, bytes] = {}
        if request.content_type.startswith("multipart/"):
            body: Any = None
            reader = await request.multipart()
            async for part in reader:
                if part.name == "payload_json":  # type: ignore[union-attr]
                    body = json.loads(await part.text())  # type: ignore[union-attr]
                else:
                    files[part.filename or part.name or ""] = bytes(await part.read())  # type: ignore[union-attr]
            return body, files
        raw = await request.read()
        return (json.loads(raw) if raw else None), files

    async def _route(
        self, method: str, p: list[str], body: Any, files: dict[str, bytes]
    ) -> web.StreamResponse:
        if p == ["users", "@me"]:
            return json_response(self.bot)
        if p == ["oauth2", "applications", "@me"]:
            return json_response(
                {
                    "id": BOT_ID,
                    "name": "draftloop",
                    "description": "",
                    "icon": None,
                    "bot_public": True,
                    "bot_require_code_grant": False,
                    "owner": self._user_payload("1", "owner"),
                    "verify_key": "0" * 64,
                    "flags": 0,
                    "team": None,
                    "summary": "",
                }
            )
        if p == ["gateway", "bot"]:
            return json_response(
                {
                    "url": f"ws://127.0.0.1:{self.port}/gateway",
                    "shards": 1,
                    "session_start_limit": {
                        "total": 1000,
                        "remaining": 1000,
                        "reset_after": 0,
                        "max_concurrency": 1,
                    },
                }
            )
        if p[:1] == ["applications"] and p[-1] == "commands" and method == "GET":
            return json_response(self.commands.get(p[3] if len(p) == 5 else "global", []))
        if p[:1] == ["applications"] and p[-1] == "commands" and method == "PUT":
            scope = p[3] if len(p) == 5 else "global"
            registered = [
                {**c, "id": str(next(self._ids)), "application_id": BOT_ID, "version": "1"} for c in body
            ]
            self.commands[scope] = registered
            return json_response(registered)
        if p[:1] == ["channels"] and p[-1] == "threads" and len(p) in (3, 5) and method == "POST":
            if p[1] in self.no_thread_permission:
                return json_response({"message": "Missing Permissions", "code": 50013}, status=403)
            if len(p) == 3 and self.channels.get(p[1], {}).get("type") == 15:
                return json_response(await self._forum_post(p[1], body))
            if len(p) == 3:
                return json_response(await self._thread(p[1], body, None))
            source = self.messages.get(p[3])
            if source is None or source.data["channel_id"] != p[1]:
                return json_response({"message": "Unknown Message", "code": 10008}, status=404)
            return json_response(await self._thread(p[1], body, p[3]))
        if p == ["users", "@me", "channels"] and method == "POST":
            return json_response(self._dm_channel(str((body or {}).get("recipient_id", ""))))
        if p[:1] == ["channels"] and len(p) == 3 and p[2] == "messages" and method == "POST":
            channel = self.channels.get(p[1])
            if channel is None:
                return json_response({"message": "Unknown Channel", "code": 10003}, status=404)
            if channel["type"] == 1 and channel["recipients"][0]["id"] in self.dms_closed:
                return json_response(
                    {"message": "Cannot send messages to this user", "code": 50007}, status=403
                )
            refused = self._refused(body or {}, files)
            if refused is not None:
                return refused
            return json_response(self._message(p[1], body or {}, files).data)
        if p[:1] == ["channels"] and len(p) == 4 and p[2] == "messages":
            msg = self.messages.get(p[3])
            if msg is None:
                return json_response({"message": "Unknown Message", "code": 10008}, status=404)
            if method == "PATCH":
                refused = self._refused(body or {}, files) or self._edit_pace(p[1], method, path_of(p), body)
                if refused is not None:
                    return refused
                msg.data.update({k: v for k, v in (body or {}).items() if k in ("content", "components")})
                msg.data["edited_timestamp"] = _now()
                msg.edits += 1
                return json_response(msg.data)
            if method == "DELETE":
                self.deleted.append(self.messages.pop(p[3]))
                return web.Response(status=204)
            return json_response(msg.data)
        if p[:1] == ["channels"] and len(p) == 7 and p[4] == "reactions":
            msg = self.messages.get(p[3])
            if msg is None:
                return json_response({"message": "Unknown Message", "code": 10008}, status=404)
            emoji, who = p[5], (BOT_ID if p[6] == "@me" else p[6])
            if method == "PUT" and who == BOT_ID:
                limited = self._reaction_pace(p[1], method, path_of(p))
                if limited is not None:
                    return limited
                await self.react(BOT_ID, msg.id, emoji, added=True)
            elif method == "DELETE":
                if who not in msg.reactions.get(emoji, []):
                    return json_response({"message": "Unknown Emoji", "code": 10014}, status=404)
                await self.react(who, msg.id, emoji, added=False)
            else:
                return json_response({"message": "Method Not Allowed", "code": 0}, status=405)
            return web.Response(status=204)
        if p[:1] == ["interactions"] and p[-1] == "callback":
            inter = self.interactions[p[1]]
            inter.callbacks.append(body)
            flags = (body.get("data") or {}).get("flags", 0)
            return json_response(
                {
                    "interaction": {
                        "id": inter.id,
                        "type": 2,
                        "response_message_loading": body["type"] == 5,
                        "response_message_ephemeral": bool(flags & 64),
                    },
                    "resource": {"type": body["type"]},
                }
            )
        if p[:1] == ["webhooks"] and len(p) == 3 and method == "POST":
            inter = self.interactions[p[2]]
            message = self._message_payload(CHANNEL_ID, body or {}, [])
            inter.followups.append(message)
            return json_response(message)
        if p[:1] == ["webhooks"] and p[-2:] == ["messages", "@original"]:
            return json_response(self._message_payload(CHANNEL_ID, body or {}, []))
        return json_response({"message": f"not implemented: {method} /{'/'.join(p)}", "code": 0}, status=404)

    # --- limits -------------------------------------------------------------------------------------------

    def _refused(self, body: dict[str, Any], files: dict[str, bytes]) -> web.Response | None:
        """Discord's answer to a message over its limits, or None."""
        if len(body.get("content") or "") > MAX_CONTENT:
            return invalid_form("content", f"Must be {MAX_CONTENT} or fewer in length.")
        if len(body.get("attachments") or []) > MAX_FILES or len(files) > MAX_FILES:
            return invalid_form("attachments", f"Must be {MAX_FILES} or fewer in length.")
        if sum(len(data) for data in files.values()) > self.upload_limit:
            return json_response({"message": "Request entity too large", "code": 40005}, status=413)
        return None

    def _too_fast(self, call: Call, retry_after: float) -> web.Response:
        self.rate_limited.append(call)
        headers = {"Content-Type": "application/json", "Retry-After": f"{retry_after:.3f}"}
        headers["Via"] = "1.1 google"
        body = {"message": "You are being rate limited.", "retry_after": retry_after, "global": False}
        return web.Response(body=json.dumps(body).encode(), status=429, headers=headers)

    def _reaction_pace(self, channel_id: str, method: str, path: str) -> web.Response | None:
        now = time.monotonic()
        if self.reaction_429s > 0:
            self.reaction_429s -= 1
            return self._too_fast(Call(method, path), 0.05)
        last = self._last_reaction.get(channel_id)
        if last is not None and now - last < REACTION_INTERVAL:
            return self._too_fast(Call(method, path), REACTION_INTERVAL - (now - last))
        self._last_reaction[channel_id] = now
        return None

    def _edit_pace(self, channel_id: str, method: str, path: str, body: Any) -> web.Response | None:
        now = time.monotonic()
        recent = [t for t in self._edits.get(channel_id, []) if now - t < EDIT_WINDOW]
        if len(recent) >= EDITS_PER_WINDOW:
            self._edits[channel_id] = recent
            return self._too_fast(Call(method, path, body), EDIT_WINDOW - (now - recent[0]))
        self._edits[channel_id] = [*recent, now]
        return None

    def _dm_channel(self, user_id: str) -> dict[str, Any]:
        for channel in self.channels.values():
            if channel["type"] == 1 and channel["recipients"][0]["id"] == user_id:
                return channel
        cid = str(next(self._ids))
        channel = {"id": cid, "type": 1, "last_message_id": None, "recipients": [self.users[user_id]]}
        self.channels[cid] = channel
        return channel

    async def _thread(self, channel_id: str, body: dict[str, Any], message_id: str | None) -> dict[str, Any]:
        tid = message_id or str(next(self._ids))
        thread = {
            "id": tid,
            "type": 11,
            "name": body["name"],
            "guild_id": GUILD_ID,
            "parent_id": channel_id,
            "owner_id": BOT_ID,
            "message_count": 0,
            "member_count": 1,
            "rate_limit_per_user": 0,
            "thread_metadata": {
                "archived": False,
                "auto_archive_duration": body.get("auto_archive_duration", 1440),
                "archive_timestamp": _now(),
                "locked": False,
            },
            "flags": 0,
            "total_message_sent": 0,
        }
        self.channels[tid] = thread
        await self.dispatch("THREAD_CREATE", {**thread, "newly_created": True})
        return thread

    async def _forum_post(self, forum_id: str, body: dict[str, Any]) -> dict[str, Any]:
        """A forum post: a thread whose starter message has the thread's id."""
        thread = await self._thread(forum_id, body, None)
        starter = self._message(thread["id"], (body.get("message") or {}), {}, mid=thread["id"])
        thread["message"] = starter.data
        return thread

    def _message(
        self, channel_id: str, body: dict[str, Any], files: dict[str, bytes], mid: str | None = None
    ) -> FakeMessage:
        mid = mid or str(next(self._ids))
        attachments = []
        for i, meta in enumerate(body.get("attachments", [])):
            filename = meta.get("filename") or f"file{i}"
            data = files.get(filename, b"")
            path = f"attachments/{channel_id}/{mid}/{filename}"
            self.cdn[path] = data
            attachments.append(
                {
                    "id": str(next(self._ids)),
                    "filename": filename,
                    "size": len(data),
                    "url": f"{self.base}/cdn/{path}",
                    "proxy_url": f"{self.base}/cdn/{path}",
                    "description": meta.get("description"),
                    "content_type": "image/png",
                }
            )
        msg = FakeMessage(data=self._message_payload(channel_id, body, attachments, mid), files=files)
        self.messages[mid] = msg
        return msg

    def _message_payload(
        self, channel_id: str, body: dict[str, Any], attachments: list[dict[str, Any]], mid: str | None = None
    ) -> dict[str, Any]:
        channel = self.channels.get(channel_id)
        reference = body.get("message_reference") or None
        payload = {
            "id": mid or str(next(self._ids)),
            "channel_id": channel_id,
            "guild_id": GUILD_ID,
            "author": self.bot,
            "content": body.get("content") or "",
            "timestamp": _now(),
            "edited_timestamp": None,
            "tts": False,
            "mention_everyone": False,
            "mentions": [],
            "mention_roles": [],
            "attachments": attachments,
            "embeds": [],
            "pinned": False,
            "type": 0,
            "flags": int(body.get("flags") or 0),
            "components": body.get("components") or [],
        }
        if reference:
            payload["message_reference"] = reference
        if channel is not None and channel["type"] == 1:
            del payload["guild_id"]
        return payload

    # --- payloads -----------------------------------------------------------------------------------------

    @staticmethod
    def _text_channel(cid: str, kind: int, name: str, position: int) -> dict[str, Any]:
        return {
            "id": cid,
            "type": kind,
            "name": name,
            "position": position,
            "guild_id": GUILD_ID,
            "permission_overwrites": [],
            "nsfw": False,
            "parent_id": None,
            "topic": None,
        }

    @staticmethod
    def _user_payload(uid: str, name: str, *, bot: bool = False) -> dict[str, Any]:
        return {
            "id": uid,
            "username": name,
            "discriminator": "0",
            "global_name": name,
            "avatar": None,
            "bot": bot,
            "public_flags": 0,
            "flags": 0,
            "verified": True,
            "mfa_enabled": False,
        }

    @staticmethod
    def _role(rid: str, name: str, position: int) -> dict[str, Any]:
        return {
            "id": rid,
            "name": name,
            "color": 0,
            "colors": {"primary_color": 0},
            "hoist": False,
            "position": position,
            "permissions": "0",
            "managed": False,
            "mentionable": False,
            "flags": 0,
            "icon": None,
            "unicode_emoji": None,
        }
