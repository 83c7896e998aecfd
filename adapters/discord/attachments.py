"""Images people attach to slash commands, fetched only from Discord's own file hosts with a byte limit."""

from __future__ import annotations

import re

import aiohttp
import yarl

DISCORD_CDN_HOSTS: frozenset[str] = frozenset({"cdn.discordapp.com", "media.discordapp.net"})
DEFAULT_MAX_BYTES = 10 * 1024 * 1024
_CHUNK = 64 * 1024


class AttachmentError(ValueError):
    """Why an attachment was refused, in words a user can read."""


class AttachmentFetcher:
    """Downloads attachment URLs that point at Discord's CDN (or the configured API host), nothing else.

    ``api_base`` is set when ``DISCORD_API_URL`` points the bot at another Discord API (a proxy, or a
    local stand-in): files served from that exact scheme, host and port are accepted as well.
    Redirects are not followed, so an allowed URL cannot bounce the download elsewhere.
    """

    def __init__(self, *, api_base: str | None = None, max_bytes: int = DEFAULT_MAX_BYTES) -> None:
        self.max_bytes = max_bytes
        self.extra_origin: tuple[str, str, int | None] | None = None
        if api_base:
            url = yarl.URL(api_base)
            self.extra_origin = (url.scheme, url.host or "", url.port)
        self._session: aiohttp.ClientSession | None = None

    def allowed(self, url: str) -> bool:
        try:
            parsed = yarl.URL(url)
        except (ValueError, TypeError):
            return False
        if not parsed.is_absolute() or parsed.user or parsed.password:
            return False
        if parsed.scheme == "https" and (parsed.host or "").lower() in DISCORD_CDN_HOSTS:
            return parsed.port in (None, 443)
        if self.extra_origin is not None:
            return (parsed.scheme, parsed.host or "", parsed.port) == self.extra_origin
        return False

    async def fetch(self, url: str, filename: str, declared_size: int | None = None) -> bytes:
        shown = _shown(filename)
        if not self.allowed(url):
            host = _host_of(url)
            raise AttachmentError(
                f"'{shown}' is not a file uploaded to Discord (it points at {host}); "
                "attach the image to the command itself."
            )
        limit_mb = self.max_bytes / 1e6
        if declared_size is not None and declared_size > self.max_bytes:
            raise AttachmentError(
                f"'{shown}' is {declared_size / 1e6:.1f} MB; images may be at most {limit_mb:.0f} MB."
            )
        session = self._client()
        try:
            async with session.get(url, allow_redirects=False) as resp:
                if resp.status != 200:
                    raise AttachmentError(
                        f"Discord did not hand out '{shown}' (HTTP {resp.status}); try attaching it again."
                    )
                if resp.content_length is not None and resp.content_length > self.max_bytes:
                    raise AttachmentError(f"'{shown}' is larger than {limit_mb:.0f} MB.")
                data = bytearray()
                async for chunk in resp.content.iter_chunked(_CHUNK):
                    data += chunk
                    if len(data) > self.max_bytes:
                        raise AttachmentError(f"'{shown}' is larger than {limit_mb:.0f} MB.")
                return bytes(data)
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise AttachmentError(f"'{shown}' could not be downloaded from Discord; try again.") from exc

    def _client(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30))
        return self._session

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None


def _host_of(url: str) -> str:
    try:
        return yarl.URL(url).host or "an unknown host"
    except (ValueError, TypeError):
        return "an unknown host"


def _shown(filename: str) -> str:
    name = re.sub(r"[\x00-\x1f`]", "", filename)
    return name if len(name) <= 60 else name[:60] + "…"
