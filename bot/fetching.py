"""Size-limited downloads from an allow-list of origins: how adapters fetch the files people attach.

Only URLs whose scheme, host and port are allowed are fetched; redirects are not followed (an allowed
URL cannot bounce the download elsewhere); the byte limit is checked against the declared size, the
``Content-Length`` and, while streaming, the bytes received, so a lying server is cut off at the limit.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass

import aiohttp
import yarl

DEFAULT_MAX_BYTES = 10 * 1024 * 1024
DEFAULT_TIMEOUT_SECONDS = 30.0
_CHUNK = 64 * 1024
_DEFAULT_PORTS = {"https": 443, "http": 80}


class FetchError(ValueError):
    """Why a file was not fetched, in words a user can read."""


class NotAllowed(FetchError):
    def __init__(self, name: str, host: str) -> None:
        super().__init__(f"'{name}' is at {host}, which is not an allowed file host.")
        self.name = name
        self.host = host


class TooLarge(FetchError):
    def __init__(self, name: str, max_bytes: int) -> None:
        super().__init__(f"'{name}' is larger than the {megabytes(max_bytes)} limit for attachments.")
        self.name = name
        self.max_bytes = max_bytes


class DownloadFailed(FetchError):
    def __init__(self, name: str, why: str) -> None:
        super().__init__(f"'{name}' could not be downloaded ({why}).")
        self.name = name
        self.why = why


def megabytes(n: int) -> str:
    """A byte count as people read a file size limit."""
    return f"{n / 1e6:.0f} MB" if n >= 1_000_000 else f"{n / 1e3:.0f} kB"


@dataclass(frozen=True)
class Origin:
    """Where files may come from: a scheme, a host and a port (None: the scheme's default port)."""

    scheme: str
    host: str
    port: int | None = None

    @classmethod
    def of(cls, url: str) -> Origin:
        parsed = yarl.URL(url if "//" in url else f"https://{url}")
        port = parsed.explicit_port
        return cls(parsed.scheme, (parsed.host or "").lower(), port)

    def matches(self, url: yarl.URL) -> bool:
        if url.scheme != self.scheme or (url.host or "").lower() != self.host:
            return False
        if self.port is None:
            return url.explicit_port in (None, _DEFAULT_PORTS.get(url.scheme))
        return url.port == self.port


def host_of(url: str) -> str:
    try:
        return yarl.URL(url).host or "an unknown host"
    except (ValueError, TypeError):
        return "an unknown host"


class Fetcher:
    """Downloads files from ``origins`` only, at most ``max_bytes`` each; one HTTP session, reused."""

    def __init__(
        self,
        origins: Collection[Origin],
        *,
        max_bytes: int = DEFAULT_MAX_BYTES,
        headers: Mapping[str, str] | None = None,
        timeout_seconds: float = DEFAULT_TIMEOUT_SECONDS,
    ) -> None:
        self.origins = frozenset(origins)
        self.max_bytes = max_bytes
        self._headers = dict(headers or {})
        self._timeout = aiohttp.ClientTimeout(total=timeout_seconds)
        self._session: aiohttp.ClientSession | None = None

    def __repr__(self) -> str:  # headers may hold a token
        return f"Fetcher(origins={sorted(self.origins, key=repr)!r}, max_bytes={self.max_bytes})"

    def allowed(self, url: str) -> bool:
        try:
            parsed = yarl.URL(url)
        except (ValueError, TypeError):
            return False
        if not parsed.is_absolute() or parsed.user or parsed.password:
            return False
        return any(origin.matches(parsed) for origin in self.origins)

    async def fetch(self, url: str, name: str, declared_size: int | None = None) -> bytes:
        if not self.allowed(url):
            raise NotAllowed(name, host_of(url))
        if declared_size is not None and declared_size > self.max_bytes:
            raise TooLarge(name, self.max_bytes)
        try:
            async with self._client().get(url, headers=self._headers, allow_redirects=False) as resp:
                if resp.status != 200:
                    raise DownloadFailed(name, f"HTTP {resp.status}")
                if resp.content_length is not None and resp.content_length > self.max_bytes:
                    raise TooLarge(name, self.max_bytes)
                data = bytearray()
                async for chunk in resp.content.iter_chunked(_CHUNK):
                    data += chunk
                    if len(data) > self.max_bytes:
                        raise TooLarge(name, self.max_bytes)
                return bytes(data)
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise DownloadFailed(name, type(exc).__name__) from exc

    def _client(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(timeout=self._timeout)
        return self._session

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None
