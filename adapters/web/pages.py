"""The page itself (with the token's first-visit cookie) and the images, by content key; with file links
configured, also full-size images by signed, expiring link (``bot.file_links``), which need no token."""

from __future__ import annotations

import asyncio
import re
from importlib import resources
from pathlib import Path

from aiohttp import web

from adapters.web.errors import json_error
from adapters.web.security import TOKEN_COOKIE, Access, same_token
from adapters.web.service_api import WebContext
from bot.file_links import FILES_PATH, FileLinks

STATIC_DIR = Path(str(resources.files("adapters.web") / "static"))
_KEY_RE = re.compile(r"^[0-9a-f]{64}$")
_UNSAFE_NAME = re.compile(r"[^A-Za-z0-9._-]+")
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
    if data.startswith(b"PK\x03\x04"):
        return "application/zip"
    return "application/octet-stream"


class PageRoutes:
    def __init__(self, ctx: WebContext, access: Access, links: FileLinks | None = None) -> None:
        self.ctx = ctx
        self.access = access
        self.links = links

    def add_to(self, router: web.UrlDispatcher) -> None:
        router.add_get("/", self.index)
        router.add_static("/static/", STATIC_DIR, append_version=False)
        router.add_get("/artifacts/{key}", self.artifact)
        if self.links is not None:
            router.add_get(FILES_PATH + "/{key}", self.signed_file)

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

    async def signed_file(self, request: web.Request) -> web.StreamResponse:
        key = request.match_info["key"].removesuffix(".png")
        links = self.links
        if links is None or not links.valid(key, request.query.get("exp", ""), request.query.get("sig", "")):
            return json_error(403, "this link is not valid (it may have expired): ask for the image again")
        return await self._image(request, key, "private, max-age=3600")

    async def artifact(self, request: web.Request) -> web.StreamResponse:
        key = request.match_info["key"].removesuffix(".png")
        return await self._image(
            request, key, "public, max-age=31536000, immutable", request.query.get("name")
        )

    async def _image(
        self, request: web.Request, key: str, cache: str, download_as: str | None = None
    ) -> web.StreamResponse:
        """The stored file; with ``download_as`` (``?name=``), as a download under that name."""
        if not _KEY_RE.match(key):
            return json_error(404, "no such image")
        etag = f'"{key}"'
        headers = {"Cache-Control": cache, "ETag": etag}
        name = _UNSAFE_NAME.sub("-", download_as or "").strip(".-")[:120]
        if name:
            headers["Content-Disposition"] = f'attachment; filename="{name}"'
        if request.headers.get("If-None-Match") == etag:
            return web.Response(status=304, headers=headers)
        try:
            data = await asyncio.to_thread(self.ctx.service.read_artifact, key)
        except (KeyError, FileNotFoundError, LookupError):
            return json_error(404, "no such image")
        body = bytes(data)
        kind = sniff_type(body)
        if kind == "application/zip" and "Content-Disposition" not in headers:  # a delivery, by its key
            headers["Content-Disposition"] = f'attachment; filename="{key[:12]}.zip"'
        return web.Response(body=body, content_type=kind, headers=headers)
