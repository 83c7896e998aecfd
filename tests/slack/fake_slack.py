"""A local stand-in for Slack: the Web API methods the bot calls, a file host, and a signed sender.

``FakeSlack`` serves ``/api/<method>`` on 127.0.0.1 and records every call. Uploads follow the files
upload v2 flow (``files.getUploadURLExternal`` → POST to the upload URL → ``files.completeUploadExternal``)
and the files are served back from ``/files/<id>/<name>`` to the bot token only. ``elsewhere`` is a second
server on another port that plays a non-Slack file host and records whether anyone fetched from it.

It enforces what Slack documents (``tests.slack.slack_rules``): the scope each method needs (a missing one
answers ``missing_scope``), 50 blocks and 3,000 characters per section, ``thread_ts`` naming a parent
message, and Tier 3 rate limits on ``chat.update`` and ``reactions.add`` (HTTP 429 with ``Retry-After``).
Sharing uploaded files into a thread posts one message holding them, whose ``ts`` ``files.info`` tells
(``shares``), as on Slack, where the completion answer does not. ``apps.connections.open`` with the app
token hands out a Socket Mode WebSocket on 127.0.0.1 (``tests.slack.fake_socket_mode``).

``SlackSender`` sends what Slack sends to a bot's request URL, signed with the v0 HMAC of the signing
secret: slash commands (form-encoded), Events API envelopes (JSON with ``event_id``, optionally as a retry
with ``X-Slack-Retry-Num``), and ``block_actions`` (a ``payload`` form field).
"""

from __future__ import annotations

import hashlib
import hmac
import itertools
import json
import math
import secrets
import time
import urllib.parse
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import aiohttp
from aiohttp import web

from tests.slack import slack_rules as rules
from tests.slack.fake_socket_mode import FakeSocketMode

BOT_TOKEN = "xoxb-fake-bot-token"
APP_TOKEN = "xapp-1-fake-app-token"
SIGNING_SECRET = "fake-signing-secret-0123456789"
BOT_USER_ID = "UBOT"
BOT_ID = "BBOT"
TEAM_ID = "T0TEAM"


@dataclass
class Call:
    method: str
    args: dict[str, Any]
    authorized: bool


@dataclass
class FileRec:
    id: str
    name: str
    data: bytes = b""
    title: str = ""
    uploaded: bool = False
    shared_to: list[tuple[str, str | None]] = field(default_factory=list)  # (channel, thread_ts)


@dataclass
class Posted:
    channel: str
    ts: str
    text: str
    user: str
    thread_ts: str | None = None
    blocks: list[dict[str, Any]] = field(default_factory=list)
    edits: int = 0
    deleted: bool = False
    files: list[str] = field(default_factory=list)  # ids of the files this message shares


@dataclass
class Ephemeral:
    channel: str
    user: str
    text: str
    thread_ts: str | None


class FakeSlack:
    def __init__(
        self,
        bot_token: str = BOT_TOKEN,
        *,
        scopes: Iterable[str] | None = None,
        app_token: str = APP_TOKEN,
        tier3_per_minute: int = rules.TIER3_PER_MINUTE,
    ) -> None:
        self.bot_token = bot_token
        self.app_token = app_token
        self.scopes: set[str] = set(rules.ALL_BOT_SCOPES if scopes is None else scopes)
        self.per_minute: dict[str, int] = dict.fromkeys(rules.TIER3_METHODS, tier3_per_minute)
        self._recent: dict[str, deque[float]] = {m: deque() for m in rules.TIER3_METHODS}
        self.refused: list[tuple[str, str]] = []  # (method, error) the fake answered with an error
        self.rate_limited: list[str] = []  # methods answered with HTTP 429
        self.user_messages: set[tuple[str, str]] = set()  # (channel, ts) of top-level messages people sent
        self.socket = FakeSocketMode(self)
        self.calls: list[Call] = []
        self.messages: dict[tuple[str, str], Posted] = {}
        self.ephemerals: list[Ephemeral] = []
        self.display_names: dict[str, str] = {"U1": "Ana Ruiz", "U2": "Ben", "U3": "Chloe"}
        self.reactions: list[tuple[str, str, str, str]] = []  # (channel, ts, name, user)
        self.files: dict[str, FileRec] = {}
        self.file_fetches: list[tuple[str, bool]] = []  # (path, with the bot token)
        self.elsewhere_fetches: list[str] = []
        self.not_in: set[str] = set()  # channels the bot is not a member of
        self.responses: list[dict[str, Any]] = []  # what was posted to a command's response_url
        self._ts = itertools.count(1)
        self._ids = itertools.count(1)
        self._runners: list[web.AppRunner] = []
        self.url = ""
        self.elsewhere_url = ""

    # --- lifecycle ------------------------------------------------------------------------------------

    async def start(self) -> FakeSlack:
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_post("/api/{method}", self._api)
        app.router.add_get("/api/{method}", self._api)  # slack_sdk reads with GET (users.info)
        app.router.add_post("/upload/{file_id}", self._upload)
        app.router.add_get("/files/{file_id}/{name}", self._file)
        app.router.add_post("/hooks/{tail:.*}", self._hook)
        app.router.add_get("/link/{session}", self.socket.serve)
        self.url = await self._serve(app)
        other = web.Application()
        other.router.add_get("/{tail:.*}", self._elsewhere)
        self.elsewhere_url = await self._serve(other)
        return self

    async def _serve(self, app: web.Application) -> str:
        runner = web.AppRunner(app)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        self._runners.append(runner)
        port = runner.addresses[0][1]
        return f"http://127.0.0.1:{port}"

    async def stop(self) -> None:
        await self.socket.close()
        for runner in self._runners:
            await runner.cleanup()
        self._runners.clear()

    @property
    def api_url(self) -> str:
        return f"{self.url}/api/"

    @property
    def response_url(self) -> str:
        return f"{self.url}/hooks/commands/1"

    # --- what tests read -----------------------------------------------------------------------------

    def calls_of(self, method: str) -> list[Call]:
        return [c for c in self.calls if c.method == method]

    def in_thread(self, channel: str, thread_ts: str) -> list[Posted]:
        return [m for m in self.messages.values() if m.channel == channel and m.thread_ts == thread_ts]

    def ephemerals_for(self, user: str) -> list[Ephemeral]:
        return [e for e in self.ephemerals if e.user == user]

    def files_message(self, channel: str, thread_ts: str) -> list[Posted]:
        """The messages in a thread that share uploaded files."""
        return [m for m in self.in_thread(channel, thread_ts) if m.files]

    def user_posted(self, channel: str, ts: str, thread_ts: str | None) -> None:
        """A person's message: a top-level one can be a thread's parent."""
        if thread_ts is None:
            self.user_messages.add((channel, ts))

    def new_minute(self) -> None:
        """Forget the calls counted against the per-minute limits, as a minute later."""
        for recent in self._recent.values():
            recent.clear()

    def receives(self, subscription: str) -> bool:
        """Whether Slack sends the app this event (or slash command): the app holds the scope it needs."""
        if subscription == "slash_command":
            return rules.COMMANDS_SCOPE in self.scopes
        return rules.EVENT_SCOPES.get(subscription, "") in self.scopes

    def host_file(self, name: str, data: bytes) -> dict[str, Any]:
        """A file a user uploaded to Slack, as it appears in a message event's ``files``."""
        rec = FileRec(id=f"FU{next(self._ids):06d}", name=name, data=data, uploaded=True)
        self.files[rec.id] = rec
        return self._file_json(rec)

    def foreign_file(self, name: str, size: int = 100) -> dict[str, Any]:
        """A file object whose URL is on a host that is not Slack's."""
        url = f"{self.elsewhere_url}/{name}"
        return {
            "id": f"FX{next(self._ids):06d}",
            "name": name,
            "size": size,
            "mimetype": "image/png",
            "url_private": url,
            "url_private_download": url,
        }

    def _file_json(self, rec: FileRec) -> dict[str, Any]:
        url = f"{self.url}/files/{rec.id}/{urllib.parse.quote(rec.name)}"
        return {
            "id": rec.id,
            "name": rec.name,
            "title": rec.title or rec.name,
            "size": len(rec.data),
            "mimetype": "image/png",
            "url_private": url,
            "url_private_download": url,
        }

    # --- the Web API ----------------------------------------------------------------------------------

    def _authorized(self, request: web.Request, args: dict[str, Any]) -> bool:
        header = request.headers.get("Authorization", "")
        return header == f"Bearer {self.bot_token}" or args.get("token") == self.bot_token

    async def _api(self, request: web.Request) -> web.Response:
        method = request.match_info["method"]
        args = await _read_args(request)
        if method == "apps.connections.open":
            return self._connections_open(request, args)
        authorized = self._authorized(request, args)
        args.pop("token", None)
        self.calls.append(Call(method, args, authorized))
        if not authorized:
            return self._refuse(method, {"ok": False, "error": "invalid_auth"})
        needed = rules.METHOD_SCOPES.get(method)
        if needed is not None and needed not in self.scopes:
            provided = ",".join(sorted(self.scopes))
            return self._refuse(
                method, {"ok": False, "error": "missing_scope", "needed": needed, "provided": provided}
            )
        if method in self._recent:
            wait = self._rate_limit_wait(method)
            if wait is not None:
                self.rate_limited.append(method)
                return web.json_response(
                    {"ok": False, "error": "ratelimited"}, status=429, headers={"Retry-After": str(wait)}
                )
        if str(args.get("channel", "")) in self.not_in and method.startswith(("chat.", "reactions.")):
            return self._refuse(method, {"ok": False, "error": "not_in_channel"})
        handler = getattr(self, "_m_" + method.replace(".", "_"), None)
        if handler is None:
            return self._refuse(method, {"ok": False, "error": "unknown_method"})
        result: dict[str, Any] = handler(args)
        if not result.get("ok"):
            self.refused.append((method, str(result.get("error"))))
        return web.json_response(result)

    def _refuse(self, method: str, answer: dict[str, Any]) -> web.Response:
        self.refused.append((method, str(answer["error"])))
        return web.json_response(answer)

    def _rate_limit_wait(self, method: str) -> int | None:
        """Seconds to wait when ``method`` is over its per-minute allowance, else None (and counted)."""
        now = time.monotonic()
        recent = self._recent[method]
        while recent and recent[0] <= now - 60.0:
            recent.popleft()
        if len(recent) >= self.per_minute[method]:
            return max(1, math.ceil(recent[0] + 60.0 - now))
        recent.append(now)
        return None

    def _connections_open(self, request: web.Request, args: dict[str, Any]) -> web.Response:
        header = request.headers.get("Authorization", "")
        authorized = header == f"Bearer {self.app_token}" or args.get("token") == self.app_token
        self.calls.append(Call("apps.connections.open", {}, authorized))
        if not authorized:
            # a bot token (xoxb-) is not an app-level token; a wrong app-level token is not this app's
            error = "invalid_auth" if header.startswith("Bearer xapp-") else "not_allowed_token_type"
            return self._refuse("apps.connections.open", {"ok": False, "error": error})
        ws_url = self.url.replace("http://", "ws://", 1) + f"/link/{self.socket.new_session()}"
        return web.json_response({"ok": True, "url": ws_url})

    def _thread_problem(self, channel: str, thread_ts: object) -> str | None:
        """``thread_ts`` must name a parent message of the channel: not a reply, not unknown."""
        if not thread_ts:
            return None
        key = (channel, str(thread_ts))
        parent = self.messages.get(key)
        if parent is not None and parent.thread_ts is None and not parent.deleted:
            return None
        if parent is None and key in self.user_messages:
            return None
        return "thread_not_found"

    def _next_ts(self) -> str:
        return f"1700000000.{next(self._ts):06d}"

    def _m_users_info(self, args: dict[str, Any]) -> dict[str, Any]:
        user = str(args.get("user", ""))
        name = self.display_names.get(user)
        if name is None:
            return {"ok": False, "error": "user_not_found"}
        return {"ok": True, "user": {"id": user, "profile": {"display_name": name, "real_name": name}}}

    def _m_auth_test(self, args: dict[str, Any]) -> dict[str, Any]:
        return {
            "ok": True,
            "url": "https://fake.slack.test/",
            "team": "Fake",
            "user": "draftloop",
            "team_id": TEAM_ID,
            "user_id": BOT_USER_ID,
            "bot_id": BOT_ID,
            "is_enterprise_install": False,
        }

    def _m_chat_postMessage(self, args: dict[str, Any]) -> dict[str, Any]:
        channel = str(args.get("channel", ""))
        if not channel:
            return {"ok": False, "error": "channel_not_found"}
        blocks = _json_field(args.get("blocks")) or []
        problem = self._message_problem(args, blocks) or self._thread_problem(channel, args.get("thread_ts"))
        if problem is not None:
            return {"ok": False, "error": problem}
        msg = Posted(
            channel=channel,
            ts=self._next_ts(),
            text=str(args.get("text", "")),
            user=BOT_USER_ID,
            thread_ts=args.get("thread_ts") or None,
            blocks=blocks,
        )
        self.messages[(channel, msg.ts)] = msg
        return {
            "ok": True,
            "channel": channel,
            "ts": msg.ts,
            "message": {"text": msg.text, "ts": msg.ts, "user": BOT_USER_ID, "blocks": blocks},
        }

    @staticmethod
    def _message_problem(args: dict[str, Any], blocks: list[dict[str, Any]]) -> str | None:
        if len(str(args.get("text", ""))) > rules.MAX_TEXT:
            return "msg_too_long"
        if rules.blocks_problem(blocks) is not None:
            return "invalid_blocks"
        return None

    def _m_chat_postEphemeral(self, args: dict[str, Any]) -> dict[str, Any]:
        if not args.get("channel") or not args.get("user"):
            return {"ok": False, "error": "invalid_arguments"}
        problem = self._thread_problem(str(args["channel"]), args.get("thread_ts"))
        if problem is not None:
            return {"ok": False, "error": problem}
        self.ephemerals.append(
            Ephemeral(
                str(args["channel"]),
                str(args["user"]),
                str(args.get("text", "")),
                args.get("thread_ts") or None,
            )
        )
        return {"ok": True, "message_ts": self._next_ts()}

    def _m_chat_update(self, args: dict[str, Any]) -> dict[str, Any]:
        msg = self.messages.get((str(args.get("channel", "")), str(args.get("ts", ""))))
        if msg is None or msg.deleted:
            return {"ok": False, "error": "message_not_found"}
        problem = self._message_problem(args, _json_field(args.get("blocks")) or [])
        if problem is not None:
            return {"ok": False, "error": problem}
        msg.text = str(args.get("text", msg.text))
        msg.edits += 1
        return {"ok": True, "channel": msg.channel, "ts": msg.ts, "text": msg.text}

    def _m_chat_delete(self, args: dict[str, Any]) -> dict[str, Any]:
        msg = self.messages.get((str(args.get("channel", "")), str(args.get("ts", ""))))
        if msg is None or msg.deleted:
            return {"ok": False, "error": "message_not_found"}
        msg.deleted = True
        return {"ok": True, "channel": msg.channel, "ts": msg.ts}

    def _m_reactions_add(self, args: dict[str, Any]) -> dict[str, Any]:
        key = (str(args.get("channel", "")), str(args.get("timestamp", "")))
        if key not in self.messages:
            return {"ok": False, "error": "message_not_found"}
        entry = (key[0], key[1], str(args.get("name", "")), BOT_USER_ID)
        if entry in self.reactions:
            return {"ok": False, "error": "already_reacted"}
        self.reactions.append(entry)
        return {"ok": True}

    def _m_files_getUploadURLExternal(self, args: dict[str, Any]) -> dict[str, Any]:
        if not args.get("filename") or not str(args.get("length", "")).isdigit():
            return {"ok": False, "error": "invalid_arguments"}
        rec = FileRec(id=f"F{next(self._ids):08d}", name=str(args["filename"]))
        self.files[rec.id] = rec
        return {"ok": True, "upload_url": f"{self.url}/upload/{rec.id}", "file_id": rec.id}

    def _m_files_completeUploadExternal(self, args: dict[str, Any]) -> dict[str, Any]:
        listed = _json_field(args.get("files")) or []
        channel = str(args.get("channel_id") or "")
        thread_ts = args.get("thread_ts") or None
        if channel:
            problem = self._thread_problem(channel, thread_ts)
            if problem is not None:
                return {"ok": False, "error": problem}
        recs = []
        for item in listed:
            rec = self.files.get(str(item.get("id", "")))
            if rec is None or not rec.uploaded:
                return {"ok": False, "error": "file_not_found"}
            rec.title = str(item.get("title") or rec.name)
            recs.append(rec)
        if channel:
            # one message shares every file of the call; Slack shares asynchronously, so the answer
            # holds no ``shares`` (files.info has them)
            msg = Posted(
                channel=channel,
                ts=self._next_ts(),
                text=str(args.get("initial_comment") or ""),
                user=BOT_USER_ID,
                thread_ts=thread_ts,
                files=[rec.id for rec in recs],
            )
            self.messages[(channel, msg.ts)] = msg
            for rec in recs:
                rec.shared_to.append((channel, thread_ts))
        return {"ok": True, "files": [self._file_json(rec) for rec in recs]}

    def _m_files_info(self, args: dict[str, Any]) -> dict[str, Any]:
        rec = self.files.get(str(args.get("file", "")))
        if rec is None:
            return {"ok": False, "error": "file_not_found"}
        shares: dict[str, list[dict[str, Any]]] = {}
        for m in self.messages.values():
            if rec.id in m.files and not m.deleted:
                share: dict[str, Any] = {"ts": m.ts, "channel_name": m.channel.lower()}
                if m.thread_ts:
                    share["thread_ts"] = m.thread_ts
                shares.setdefault(m.channel, []).append(share)
        return {"ok": True, "file": {**self._file_json(rec), "shares": {"public": shares}}}

    # --- the file host ---------------------------------------------------------------------------------

    async def _upload(self, request: web.Request) -> web.Response:
        rec = self.files.get(request.match_info["file_id"])
        if rec is None:
            return web.Response(status=404, text="no such upload")
        rec.data = await request.read()
        rec.uploaded = True
        return web.Response(text=f"OK - {len(rec.data)}")

    async def _file(self, request: web.Request) -> web.Response:
        authorized = request.headers.get("Authorization", "") == f"Bearer {self.bot_token}"
        authorized = authorized and rules.FILE_DOWNLOAD_SCOPE in self.scopes
        self.file_fetches.append((request.path, authorized))
        rec = self.files.get(request.match_info["file_id"])
        if not authorized:
            return web.Response(status=403, text="sign in to see this file")
        if rec is None or not rec.uploaded:
            return web.Response(status=404, text="no such file")
        return web.Response(body=rec.data, content_type="image/png")

    async def _hook(self, request: web.Request) -> web.Response:
        self.responses.append(await request.json())
        return web.Response(text="ok")

    async def _elsewhere(self, request: web.Request) -> web.Response:
        self.elsewhere_fetches.append(request.path)
        return web.Response(status=200, body=b"\x89PNG\r\n\x1a\n not really", content_type="image/png")


async def _read_args(request: web.Request) -> dict[str, Any]:
    if request.content_type == "application/json":
        body = await request.json()
        return dict(body) if isinstance(body, dict) else {}
    form = await request.post()
    args: dict[str, Any] = {k: v for k, v in form.items() if isinstance(v, str)}
    args.update({k: v for k, v in request.query.items() if k not in args})
    return args


def _json_field(value: Any) -> Any:
    if isinstance(value, str):
        try:
            return json.loads(value)
        except ValueError:
            return None
    return value


# --- what Slack sends to the bot ----------------------------------------------------------------------


def sign(secret: str, timestamp: str, body: bytes) -> str:
    base = b"v0:" + timestamp.encode() + b":" + body
    return "v0=" + hmac.new(secret.encode(), base, hashlib.sha256).hexdigest()


@dataclass
class Sent:
    status: int
    body: str
    event_id: str | None = None


class SlackSender:
    """Posts signed requests to a bot's Slack request URL (``SocketModeSender`` sends the same over the
    Socket Mode connection). With ``fake``, it sends only what Slack would: events and commands the app
    holds the scope for; the messages people send are known to ``fake`` as thread parents."""

    def __init__(
        self,
        url: str,
        signing_secret: str = SIGNING_SECRET,
        response_url: str = "https://hooks.slack.test/commands/1",
        fake: FakeSlack | None = None,
    ) -> None:
        self.url = url
        self.fake = fake
        self.response_url = response_url
        self.signing_secret = signing_secret
        self._event_ids = itertools.count(1)
        self._triggers = itertools.count(1)
        self._sender_tag = secrets.token_hex(3)  # Slack's trigger and event ids are unique across senders
        self._event_ts = itertools.count(1)
        self._envelopes: dict[str, dict[str, Any]] = {}  # event id -> the envelope sent

    async def _post(
        self,
        body: bytes,
        content_type: str,
        *,
        bad_signature: bool = False,
        extra_headers: dict[str, str] | None = None,
    ) -> Sent:
        ts = str(int(time.time()))
        secret = self.signing_secret + ("-wrong" if bad_signature else "")
        headers = {
            "Content-Type": content_type,
            "X-Slack-Request-Timestamp": ts,
            "X-Slack-Signature": sign(secret, ts, body),
            **(extra_headers or {}),
        }
        timeout = aiohttp.ClientTimeout(total=15)
        async with (
            aiohttp.ClientSession(timeout=timeout) as session,
            session.post(self.url, data=body, headers=headers) as resp,
        ):
            return Sent(status=resp.status, body=await resp.text())

    def _undelivered(self, subscription: str) -> Sent | None:
        if self.fake is None or self.fake.receives(subscription):
            return None
        return Sent(status=0, body=f"not sent: the app lacks the scope for {subscription}")

    async def slash(
        self, command: str, text: str, *, user: str, channel: str, bad_signature: bool = False
    ) -> Sent:
        undelivered = self._undelivered("slash_command")
        if undelivered is not None:
            return undelivered
        form = {
            "token": "deprecated-verification-token",
            "team_id": TEAM_ID,
            "team_domain": "fake",
            "channel_id": channel,
            "channel_name": channel.lower(),
            "user_id": user,
            "user_name": user.lower(),
            "command": command,
            "text": text,
            "api_app_id": "A0APP",
            "is_enterprise_install": "false",
            "response_url": self.response_url,
            "trigger_id": f"trig.{self._sender_tag}.{next(self._triggers)}",
        }
        return await self._deliver_slash(form, bad_signature)

    async def _deliver_slash(self, form: dict[str, str], bad_signature: bool) -> Sent:
        body = urllib.parse.urlencode(form).encode()
        return await self._post(body, "application/x-www-form-urlencoded", bad_signature=bad_signature)

    def envelope(self, event: dict[str, Any], event_id: str | None = None) -> dict[str, Any]:
        """The Events API envelope; a known ``event_id`` is a retry, which Slack sends unchanged."""
        if event_id is not None and event_id in self._envelopes:
            return self._envelopes[event_id]
        event = {"event_ts": f"1700001000.{next(self._event_ts):06d}", **event}
        env = {
            "token": "deprecated-verification-token",
            "team_id": TEAM_ID,
            "api_app_id": "A0APP",
            "event": event,
            "type": "event_callback",
            "event_id": event_id or f"Ev{self._sender_tag}{next(self._event_ids):08d}",
            "event_time": int(time.time()),
            "authorizations": [{"team_id": TEAM_ID, "user_id": BOT_USER_ID, "is_bot": True}],
        }
        self._envelopes[str(env["event_id"])] = env
        return env

    async def event(
        self,
        event: dict[str, Any],
        *,
        event_id: str | None = None,
        retry_num: int | None = None,
        bad_signature: bool = False,
    ) -> Sent:
        undelivered = self._undelivered(rules.event_subscription(event))
        if undelivered is not None:
            return undelivered
        env = self.envelope(event, event_id)
        if self.fake is not None and event.get("type") == "message":
            self.fake.user_posted(str(event.get("channel")), str(event.get("ts")), event.get("thread_ts"))
        sent = await self._deliver_event(env, retry_num, bad_signature)
        sent.event_id = env["event_id"]
        return sent

    async def _deliver_event(self, env: dict[str, Any], retry_num: int | None, bad_signature: bool) -> Sent:
        headers = {}
        if retry_num is not None:
            headers = {"X-Slack-Retry-Num": str(retry_num), "X-Slack-Retry-Reason": "http_timeout"}
        return await self._post(
            json.dumps(env).encode(), "application/json", bad_signature=bad_signature, extra_headers=headers
        )

    async def reaction(
        self,
        name: str,
        *,
        user: str,
        channel: str,
        ts: str,
        added: bool = True,
        event_id: str | None = None,
        retry_num: int | None = None,
    ) -> Sent:
        event = {
            "type": "reaction_added" if added else "reaction_removed",
            "user": user,
            "reaction": name,
            "item_user": BOT_USER_ID,
            "item": {"type": "message", "channel": channel, "ts": ts},
        }
        return await self.event(event, event_id=event_id, retry_num=retry_num)

    async def message(
        self,
        text: str,
        *,
        user: str,
        channel: str,
        ts: str,
        thread_ts: str | None = None,
        files: list[dict[str, Any]] | None = None,
    ) -> Sent:
        event: dict[str, Any] = {
            "type": "message",
            "user": user,
            "text": text,
            "channel": channel,
            "ts": ts,
            "channel_type": "channel",
        }
        if thread_ts:
            event["thread_ts"] = thread_ts
        if files:
            event["subtype"] = "file_share"
            event["files"] = files
        sent = await self.event(event)
        if f"<@{BOT_USER_ID}>" in text:  # Slack sends a mention twice: as a message and as app_mention
            mention = {k: v for k, v in event.items() if k not in ("subtype", "channel_type")}
            await self.event({**mention, "type": "app_mention"})
        return sent

    async def block_action(
        self,
        action_id: str,
        *,
        user: str,
        channel: str,
        message_ts: str,
        thread_ts: str | None,
    ) -> Sent:
        payload = {
            "type": "block_actions",
            "team": {"id": TEAM_ID, "domain": "fake"},
            "user": {"id": user, "username": user.lower(), "team_id": TEAM_ID},
            "api_app_id": "A0APP",
            "token": "deprecated-verification-token",
            "trigger_id": f"trig.{self._sender_tag}.{next(self._triggers)}",
            "container": {
                "type": "message",
                "message_ts": message_ts,
                "channel_id": channel,
                "is_ephemeral": False,
                "thread_ts": thread_ts,
            },
            "channel": {"id": channel, "name": channel.lower()},
            "message": {"type": "message", "ts": message_ts, "thread_ts": thread_ts, "user": BOT_USER_ID},
            "response_url": "https://hooks.slack.test/actions/1",
            "actions": [
                {
                    "type": "button",
                    "action_id": action_id,
                    "block_id": "act-1-0",
                    "value": action_id,
                    "text": {"type": "plain_text", "text": "press"},
                    "action_ts": str(time.time()),
                }
            ],
        }
        return await self._deliver_action(payload)

    async def _deliver_action(self, payload: dict[str, Any]) -> Sent:
        body = urllib.parse.urlencode({"payload": json.dumps(payload)}).encode()
        return await self._post(body, "application/x-www-form-urlencoded")
