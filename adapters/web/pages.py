"""The page itself (with the token's first-visit cookie) and the images, by content key."""

from __future__ import annotations

import asyncio
import re
from importlib import resources
from pathlib import Path

from aiohttp import web

from adapters.web.errors import json_error
from adapters.web.security import TOKEN_COOKIE, Access, same_token
from adapters.web.service_api import WebContext

STATIC_DIR = Path(str(resources.files("adapters.web") / "static"))
_KEY_RE = re.compile(r"^[0-9a-f]{64}$")
_NEEDS_TOKEN_PAGE = (
    "<!doctype html><title>draftloop</title><p>This playground needs its token: "
    "open <code>/?token=&lt;token&gt;</code> once (the token is in DRAFTLOOP_WEB_TOKEN).</p>"
)


def sniff_type(data: bytes) -> str:
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if data.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    if data[:6] in (b"GIF87a", b"GIF89a"):
        return "image/gif"
    return "application/octet-stream"


class PageRoutes:
    def __init__(self, ctx: WebContext, access: Access) -> None:
        self.ctx = ctx
        self.access = access

    def add_to(self, router: web.UrlDispatcher) -> None:
        router.add_get("/", self.index)
        router.add_static("/static/", STATIC_DIR, append_version=False)
        router.add_get("/artifacts/{key}", self.artifact)

    async def index(self, request: web.Request) -> web.StreamResponse:
        token = self.access.token
        if token is not None:
            given = request.query.get("token")
            if given is not None:
                if not same_token(given, token):
                    return web.Response(status=401, text="wrong token", content_type="text/plain")
                found = web.HTTPFound("/")
                found.set_cookie(TOKEN_COOKIE, given, httponly=True, samesite="Strict", path="/")
                raise found
            if not self.access.token_ok(request):
                return web.Response(status=401, content_type="text/html", text=_NEEDS_TOKEN_PAGE)
        return web.FileResponse(STATIC_DIR / "index.html", headers={"Cache-Control": "no-cache"})

    async def artifact(self, request: web.Request) -> web.StreamResponse:
        key = request.match_info["key"].removesuffix(".png")
        if not _KEY_RE.match(key):
            return json_error(404, "no such image")
        etag = f'"{key}"'
        headers = {"Cache-Control": "public, max-age=31536000, immutable", "ETag": etag}
        if request.headers.get("If-None-Match") == etag:
            return web.Response(status=304, headers=headers)
        try:
            data = await asyncio.to_thread(self.ctx.service.read_artifact, key)
        except (KeyError, FileNotFoundError, LookupError):
            return json_error(404, "no such image")
        return web.Response(body=bytes(data), content_type=sniff_type(bytes(data)), headers=headers)
