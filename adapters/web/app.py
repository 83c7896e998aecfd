"""The web playground's HTTP side: the page, a JSON API under /api, artifacts, server-sent events.

Wiring::

    presenter = WebPresenter(state_path=data_dir / "web" / "playground.json")
    service = CampaignService(..., presenters={"web": presenter})
    app = WebApp(service, presenter, host="127.0.0.1", port=8765, token=None)
    await app.start()          # serves until
    await app.stop()

Binding beyond loopback needs a token (``WebApp`` refuses without one). With a token, every API call
carries it: ``Authorization: Bearer <token>``, ``X-Draftloop-Token: <token>``, or the cookie the page
sets when first opened as ``/?token=<token>``.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import inspect
import ipaddress
import json
import logging
import re
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any, Protocol

from aiohttp import BodyPartReader, web
from pydantic import BaseModel

from adapters.web.presenter import PLATFORM, WebPresenter, message_json
from bot.core.model import Campaign, ThreadRef, User

log = logging.getLogger(__name__)

STATIC_DIR = Path(str(resources.files("adapters.web") / "static"))
TOKEN_COOKIE = "draftloop_token"
CLIENT_HEADER = "X-Draftloop-Client"  # a custom header: cross-site pages cannot send it without CORS
DEFAULT_MAX_UPLOAD = 10 * 1024 * 1024
MAX_FILES = 8
SAVE_INTERVAL = 1.0
IDEMPOTENCY_ENTRIES = 4096

_USER_RE = re.compile(r"^[a-z0-9][a-z0-9_.-]{0,31}$")
_ID_RE = re.compile(r"^[A-Za-z0-9_.:-]{1,128}$")
_KEY_RE = re.compile(r"^[0-9a-f]{64}$")
_LOOPBACK_NAMES = frozenset({"localhost", "localhost.localdomain", "ip6-localhost"})


class CampaignServiceAPI(Protocol):
    """What the playground calls on ``bot.service.CampaignService`` (sync or async methods both work)."""

    def handle_text(
        self,
        platform: str,
        channel_id: str,
        thread_id: str | None,
        user: User,
        text: str,
        attachments: Mapping[str, bytes] = ...,
        event_id: str | None = ...,
    ) -> Any: ...

    def handle_reaction(
        self, platform: str, message_id: str, emoji: str, user: User, added: bool, event_id: str | None = ...
    ) -> Any: ...

    def handle_action(self, platform: str, action_id: str, user: User, event_id: str | None = ...) -> Any: ...

    def campaign(self, campaign_id: str) -> Any: ...

    def campaigns_in_channel(self, platform: str, channel_id: str) -> Any: ...

    def vote_counts(self, campaign_id: str, round_no: int) -> Any: ...

    def engine_stats(self) -> Any: ...

    def read_artifact(self, key: str) -> Any: ...


class WebConfigError(ValueError):
    """The playground cannot start with these settings (the message says what to change)."""


def is_loopback(host: str) -> bool:
    name = host.strip().strip("[]").lower()
    if name in _LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def check_bind(host: str, token: str | None) -> None:
    """Raise ``WebConfigError`` unless the playground may serve on ``host`` (call it before starting)."""
    if not is_loopback(host) and not token:
        raise WebConfigError(
            f"refusing to serve the web playground on {host}: binding beyond loopback needs a token. "
            "Set DRAFTLOOP_WEB_TOKEN (or pass token=...), or bind 127.0.0.1."
        )


async def _resolve(value: Any) -> Any:
    while inspect.isawaitable(value):
        value = await value
    return value


def _sniff_type(data: bytes) -> str:
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if data.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    if data[:6] in (b"GIF87a", b"GIF89a"):
        return "image/gif"
    return "application/octet-stream"


def _size(n: int) -> str:
    return f"{n / (1024 * 1024):g} MiB" if n >= 1024 * 1024 else f"{n / 1024:g} KiB"


def _json_error(status: int, message: str) -> web.Response:
    return web.json_response({"error": message}, status=status)


_FLAGS = {"true": True, "1": True, "false": False, "0": False}


def _flag(value: Any) -> bool | None:
    """A JSON boolean, or one of the strings "true", "false", "1", "0"; None for anything else."""
    if isinstance(value, bool):
        return value
    if isinstance(value, str):
        return _FLAGS.get(value)
    return None


def _jsonable(value: Any) -> Any:
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json")
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [_jsonable(v) for v in value]
    if value is None or isinstance(value, str | int | float | bool):
        return value
    return str(value)


@dataclass
class _Form:
    fields: dict[str, str]
    files: dict[str, bytes]


class _TooLarge(Exception):
    pass


class WebApp:
    """The playground server. ``service`` is the campaign service; ``presenter`` the one it posts to."""

    def __init__(
        self,
        service: CampaignServiceAPI,
        presenter: WebPresenter,
        host: str = "127.0.0.1",
        port: int = 8765,
        token: str | None = None,
        max_upload_bytes: int = DEFAULT_MAX_UPLOAD,
    ) -> None:
        token = token or None
        check_bind(host, token)
        self.service = service
        self.presenter = presenter
        self.host = host
        self.port = port
        self.token = token
        self.max_upload_bytes = max_upload_bytes
        self._runner: web.AppRunner | None = None
        self._flusher: asyncio.Task[None] | None = None
        self._done: OrderedDict[str, Any] = OrderedDict()
        self._inflight: dict[str, asyncio.Future[Any]] = {}
        self.app = self._build()

    # --- lifecycle ---------------------------------------------------------------------------------------

    def _build(self) -> web.Application:
        app = web.Application(
            middlewares=[self._guard],
            client_max_size=self.max_upload_bytes * MAX_FILES + 1024 * 1024,
        )
        r = app.router
        r.add_get("/", self.index)
        r.add_static("/static/", STATIC_DIR, append_version=False)
        r.add_get("/artifacts/{key}", self.artifact)
        r.add_get("/api/health", self.health)
        r.add_get("/api/channels", self.channels)
        r.add_post("/api/channels", self.create_channel)
        r.add_get("/api/messages", self.messages)
        r.add_post("/api/send", self.send)
        r.add_post("/api/react", self.react)
        r.add_post("/api/press", self.press)
        r.add_get("/api/campaign/{campaign_id}", self.campaign)
        r.add_get("/api/stats", self.stats)
        r.add_get("/api/help", self.help)
        r.add_get("/api/events", self.events)
        r.add_get("/metrics", self.metrics)
        app.on_shutdown.append(self._on_shutdown)
        return app

    async def start(self) -> None:
        self._runner = web.AppRunner(self.app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.port)
        await site.start()
        self._flusher = asyncio.create_task(self._flush_loop())
        log.info("web playground on %s", self.url)

    async def stop(self) -> None:
        if self._flusher is not None:
            self._flusher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._flusher
            self._flusher = None
        self.presenter.hub.close()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
        self.presenter.save()

    @property
    def url(self) -> str:
        port = self.port
        if self._runner is not None and self._runner.addresses:
            port = self._runner.addresses[0][1]
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{port}/"

    async def _on_shutdown(self, app: web.Application) -> None:
        self.presenter.hub.close()

    async def _flush_loop(self) -> None:
        while True:
            await asyncio.sleep(SAVE_INTERVAL)
            if self.presenter.dirty:
                try:
                    await asyncio.to_thread(self.presenter.write, self.presenter.snapshot())
                except OSError:
                    log.exception("could not write the playground history")

    # --- access control -----------------------------------------------------------------------------------

    def _token_ok(self, request: web.Request) -> bool:
        if self.token is None:
            return True
        auth = request.headers.get("Authorization", "")
        candidates = [
            auth[7:] if auth.startswith("Bearer ") else "",
            request.headers.get("X-Draftloop-Token", ""),
            request.cookies.get(TOKEN_COOKIE, ""),
        ]
        return any(c and hmac.compare_digest(c.encode(), self.token.encode()) for c in candidates)

    @web.middleware
    async def _guard(
        self, request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
    ) -> web.StreamResponse:
        if self.token is None and not is_loopback(request.url.host or ""):
            # bound to loopback without a token: a page from elsewhere reaching us by a DNS name is refused
            return _json_error(403, "the playground answers only on localhost / 127.0.0.1")
        path = request.path
        guarded = path.startswith(("/api/", "/artifacts/", "/metrics"))
        if guarded and not self._token_ok(request):
            return _json_error(
                401, "token required: send Authorization: Bearer <token>, or open /?token=<token> once"
            )
        if request.method == "POST" and not request.headers.get(CLIENT_HEADER):
            return _json_error(403, f"missing {CLIENT_HEADER} header")
        return await handler(request)

    # --- page and files -------------------------------------------------------------------------------------

    async def index(self, request: web.Request) -> web.StreamResponse:
        if self.token is not None:
            given = request.query.get("token")
            if given is not None:
                if not hmac.compare_digest(given.encode(), self.token.encode()):
                    return web.Response(status=401, text="wrong token", content_type="text/plain")
                found = web.HTTPFound("/")
                found.set_cookie(TOKEN_COOKIE, given, httponly=True, samesite="Strict", path="/")
                raise found
            if not self._token_ok(request):
                return web.Response(
                    status=401,
                    content_type="text/html",
                    text="<!doctype html><title>draftloop</title><p>This playground needs its token: "
                    "open <code>/?token=&lt;token&gt;</code> once (the token is in DRAFTLOOP_WEB_TOKEN).</p>",
                )
        return web.FileResponse(STATIC_DIR / "index.html", headers={"Cache-Control": "no-cache"})

    async def artifact(self, request: web.Request) -> web.StreamResponse:
        key = request.match_info["key"].removesuffix(".png")
        if not _KEY_RE.match(key):
            return _json_error(404, "no such image")
        etag = f'"{key}"'
        headers = {"Cache-Control": "public, max-age=31536000, immutable", "ETag": etag}
        if request.headers.get("If-None-Match") == etag:
            return web.Response(status=304, headers=headers)
        try:
            data = await _resolve(await asyncio.to_thread(self.service.read_artifact, key))
        except (KeyError, FileNotFoundError, LookupError):
            return _json_error(404, "no such image")
        if not isinstance(data, bytes | bytearray):
            return _json_error(404, "no such image")
        return web.Response(body=bytes(data), content_type=_sniff_type(bytes(data)), headers=headers)

    # --- reading ---------------------------------------------------------------------------------------

    async def health(self, request: web.Request) -> web.Response:
        return web.json_response({"ok": True, "platform": PLATFORM})

    async def channels(self, request: web.Request) -> web.Response:
        out = []
        for channel in self.presenter.state.channels.values():
            stages: dict[str, str] = {}
            try:
                for camp in await _resolve(self.service.campaigns_in_channel(PLATFORM, channel.id)) or []:
                    stages[camp.thread.thread_id] = str(camp.stage.value)
            except Exception:  # the list still shows without stages
                log.exception("campaigns_in_channel failed")
            threads = []
            for t in self.presenter.threads_in(channel.id):
                item = self.presenter.thread_json(t)
                item["stage"] = stages.get(t.id)
                threads.append(item)
            out.append({**channel.model_dump(), "threads": threads})
        return web.json_response({"channels": out})

    async def create_channel(self, request: web.Request) -> web.Response:
        body = await self._json_body(request)
        name = str(body.get("name", "")).strip().lstrip("#").lower().replace(" ", "-")
        if not re.fullmatch(r"[a-z0-9][a-z0-9_-]{0,39}", name):
            return _json_error(400, "a channel name is 1-40 letters, digits, - or _")
        channel = self.presenter.ensure_channel(name)
        return web.json_response({"channel": channel.model_dump()})

    async def messages(self, request: web.Request) -> web.Response:
        channel_id = request.query.get("channel_id", "")
        thread_id = request.query.get("thread_id") or None
        user = request.query.get("user", "")
        if channel_id not in self.presenter.state.channels:
            return _json_error(404, f"no channel {channel_id!r}")
        msgs = self.presenter.messages(channel_id, thread_id, user)
        thread = self.presenter.thread(thread_id) if thread_id else None
        return web.json_response(
            {
                "messages": [message_json(m) for m in msgs],
                "thread": self.presenter.thread_json(thread) if thread else None,
            }
        )

    async def campaign(self, request: web.Request) -> web.Response:
        from bot.core.ledger import cost_text, summarize

        camp: Campaign | None = await _resolve(self.service.campaign(request.match_info["campaign_id"]))
        if camp is None:
            return _json_error(404, "no such campaign")
        votes: dict[str, int] = {}
        rnd = camp.current_round
        if rnd is not None:
            counts = await _resolve(self.service.vote_counts(camp.id, rnd.number)) or {}
            votes = {str(k): int(v) for k, v in counts.items()}
        return web.json_response(
            {
                "campaign": camp.model_dump(mode="json"),
                "cost_text": cost_text(camp),
                "cost": _jsonable(summarize(camp)),
                "votes": votes,
                "spent_seconds": camp.spent_seconds(),
            }
        )

    async def stats(self, request: web.Request) -> web.Response:
        stats = await _resolve(self.service.engine_stats())
        return web.json_response({"stats": _jsonable(stats)})

    async def metrics(self, request: web.Request) -> web.Response:
        from bot.metrics import prometheus_text

        stats = await _resolve(self.service.engine_stats())
        return web.Response(text=prometheus_text(stats), content_type="text/plain", charset="utf-8")

    async def help(self, request: web.Request) -> web.Response:
        from bot.core.grammar import help_text

        return web.json_response({"text": help_text()})

    async def events(self, request: web.Request) -> web.StreamResponse:
        user = request.query.get("user", "")
        sub = self.presenter.hub.subscribe(user)
        resp = web.StreamResponse(
            headers={
                "Content-Type": "text/event-stream",
                "Cache-Control": "no-cache",
                "X-Accel-Buffering": "no",
            }
        )
        await resp.prepare(request)
        with contextlib.suppress(ConnectionResetError, asyncio.CancelledError):
            await resp.write(b"retry: 2000\nevent: hello\ndata: {}\n\n")
            async for frame in self.presenter.hub.stream(sub):
                await resp.write(frame)
        self.presenter.hub.unsubscribe(sub)
        return resp

    # --- acting ----------------------------------------------------------------------------------------

    async def send(self, request: web.Request) -> web.Response:
        try:
            form = await self._form(request)
        except _TooLarge as exc:
            return _json_error(413, str(exc))
        except ValueError as exc:
            return _json_error(400, str(exc))
        f = form.fields
        user = self._user(f)
        if isinstance(user, web.Response):
            return user
        channel_id = f.get("channel_id", "")
        thread_id = f.get("thread_id") or None
        text = f.get("text", "").strip()
        if channel_id not in self.presenter.state.channels:
            return _json_error(404, f"no channel {channel_id!r}")
        if thread_id is not None and self.presenter.thread(thread_id) is None:
            return _json_error(404, f"no thread {thread_id!r}")
        if not text:
            return _json_error(400, "type a command, e.g. /draft a red fox in snow --n 8")
        event_id = self._event_id(f)

        async def run() -> dict[str, Any]:
            with self.presenter.acting(user.id) as act:
                replies = await _resolve(
                    self.service.handle_text(
                        PLATFORM,
                        channel_id,
                        thread_id,
                        user,
                        text,
                        attachments=form.files,
                        event_id=event_id,
                    )
                )
            replies = [str(r) for r in (replies or [])]
            opened: ThreadRef | None = act.opened[0] if act.opened else None
            where = opened.thread_id if opened else thread_id
            echo = self.presenter.add_user_message(
                channel_id, where, user.id, text, sorted(form.files), visible_to=user.id
            )
            reply_msgs = [self.presenter.add_reply(channel_id, where, user.id, r) for r in replies]
            return {
                "replies": replies,
                "opened_thread": opened.thread_id if opened else None,
                "messages": [message_json(echo)] + [message_json(m) for m in reply_msgs],
            }

        return await self._once(event_id, run)

    async def react(self, request: web.Request) -> web.Response:
        body = await self._json_body(request)
        user = self._user(body)
        if isinstance(user, web.Response):
            return user
        msg = self.presenter.message(str(body.get("message_id", "")))
        emoji = str(body.get("emoji", ""))
        if msg is None:
            return _json_error(404, "no such message")
        if not emoji or len(emoji) > 16:
            return _json_error(400, "emoji missing")
        if msg.visible_to is not None and msg.visible_to != user.id:
            return _json_error(404, "no such message")
        added = _flag(body.get("added", user.id not in msg.reactions.get(emoji, [])))
        if added is None:
            return _json_error(400, 'added must be true or false (or "true", "false", "1", "0")')
        event_id = self._event_id(body)

        async def run() -> dict[str, Any]:
            changed = self.presenter.set_reaction(msg.id, emoji, user.id, added)
            refusal = None
            if changed:
                refusal = await _resolve(
                    self.service.handle_reaction(
                        PLATFORM,
                        msg.id,
                        emoji,
                        user,
                        added,
                        event_id=event_id,
                    )
                )
            reply = None
            if refusal:
                # the vote did not count: take the reaction back so the page shows what is true
                self.presenter.set_reaction(msg.id, emoji, user.id, not added)
                reply = self.presenter.add_reply(msg.channel_id, msg.thread_id, user.id, str(refusal))
            return {
                "ok": not refusal,
                "refusal": str(refusal) if refusal else None,
                "reply": message_json(reply) if reply else None,
                "reactions": message_json(msg)["reactions"],
            }

        return await self._once(event_id, run)

    async def press(self, request: web.Request) -> web.Response:
        body = await self._json_body(request)
        user = self._user(body)
        if isinstance(user, web.Response):
            return user
        action = str(body.get("action_id", ""))
        if not action.startswith("dl:") or len(action) > 200:
            return _json_error(400, "not a draftloop button")
        msg = self.presenter.message(str(body.get("message_id", "")))
        event_id = self._event_id(body)

        async def run() -> dict[str, Any]:
            with self.presenter.acting(user.id):
                replies = await _resolve(
                    self.service.handle_action(PLATFORM, action, user, event_id=event_id)
                )
            replies = [str(r) for r in (replies or [])]
            reply_msgs = []
            if msg is not None:
                reply_msgs = [
                    self.presenter.add_reply(msg.channel_id, msg.thread_id, user.id, r) for r in replies
                ]
            return {"replies": replies, "messages": [message_json(m) for m in reply_msgs]}

        return await self._once(event_id, run)

    # --- helpers --------------------------------------------------------------------------------------------

    def _user(self, fields: Mapping[str, Any]) -> User | web.Response:
        name = str(fields.get("user", "")).strip().lower()
        if not _USER_RE.match(name):
            return _json_error(400, "pick a user name: 1-32 lowercase letters, digits, . _ -")
        approver = str(fields.get("approver", "")).lower() in ("1", "true", "yes", "on")
        return User(id=name, name=name, is_approver=approver)

    def _event_id(self, fields: Mapping[str, Any]) -> str | None:
        value = str(fields.get("event_id", "") or "")
        return value if _ID_RE.match(value) else None

    async def _once(self, event_id: str | None, run: Callable[[], Awaitable[dict[str, Any]]]) -> web.Response:
        """Run an action once per event id: a repeated delivery gets the first answer back."""
        if event_id is None:
            return web.json_response(await run())
        if event_id in self._done:
            return web.json_response({**self._done[event_id], "duplicate": True})
        pending = self._inflight.get(event_id)
        if pending is not None:
            return web.json_response({**(await asyncio.shield(pending)), "duplicate": True})
        fut: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._inflight[event_id] = fut
        try:
            result = await run()
        except Exception as exc:
            fut.set_exception(exc)
            fut.exception()  # mark retrieved: a waiting duplicate re-raises it
            log.exception("playground action failed")
            return _json_error(500, f"the bot failed on that: {exc}")
        finally:
            self._inflight.pop(event_id, None)
        fut.set_result(result)
        self._done[event_id] = result
        while len(self._done) > IDEMPOTENCY_ENTRIES:
            self._done.popitem(last=False)
        return web.json_response(result)

    async def _json_body(self, request: web.Request) -> dict[str, Any]:
        try:
            body = await request.json()
        except (json.JSONDecodeError, UnicodeDecodeError):
            body = None
        if not isinstance(body, dict):
            raise web.HTTPBadRequest(
                text=json.dumps({"error": "expected a JSON object"}), content_type="application/json"
            )
        return body

    async def _form(self, request: web.Request) -> _Form:
        """A JSON body, or multipart with fields and files (each under ``max_upload_bytes``)."""
        if not request.content_type.startswith("multipart/"):
            body = await self._json_body(request)
            return _Form({k: str(v) if v is not None else "" for k, v in body.items()}, {})
        fields: dict[str, str] = {}
        files: dict[str, bytes] = {}
        reader = await request.multipart()
        while True:
            part = await reader.next()
            if part is None:
                break
            if not isinstance(part, BodyPartReader):
                raise ValueError("nested multipart is not supported")
            filename = getattr(part, "filename", None)
            if filename:
                if len(files) >= MAX_FILES:
                    raise _TooLarge(f"at most {MAX_FILES} attachments per message")
                data = bytearray()
                while chunk := await part.read_chunk(64 * 1024):
                    data += chunk
                    if len(data) > self.max_upload_bytes:
                        raise _TooLarge(f"{filename} is larger than the {_size(self.max_upload_bytes)} limit")
                name = Path(filename.replace("\\", "/")).name or "attachment"
                base, n = name, 2
                while name in files:
                    name = f"{n}-{base}"
                    n += 1
                files[name] = bytes(data)
            else:
                value = await part.text()
                if len(value) > 20_000:
                    raise ValueError("text field too long")
                fields[str(getattr(part, "name", "") or "")] = value
        return _Form(fields, files)
