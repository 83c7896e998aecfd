"""Images people attach to slash commands, fetched only from Discord's own file hosts with a byte limit."""

from __future__ import annotations

import re

from bot.fetching import DEFAULT_MAX_BYTES, DownloadFailed, Fetcher, NotAllowed, Origin, TooLarge

DISCORD_CDN_HOSTS: frozenset[str] = frozenset({"cdn.discordapp.com", "media.discordapp.net"})


class AttachmentError(ValueError):
    """Why an attachment was refused, in words a user can read."""


def discord_origins(api_base: str | None = None) -> list[Origin]:
    """Discord's CDN, plus the exact origin of ``api_base`` when ``DISCORD_API_URL`` points elsewhere (a
    proxy, or a local stand-in)."""
    origins = [Origin("https", host) for host in sorted(DISCORD_CDN_HOSTS)]
    if api_base:
        origins.append(Origin.of(api_base))
    return origins


class AttachmentFetcher:
    """Downloads attachment URLs that point at Discord's CDN (or the configured API host), nothing else."""

    def __init__(self, *, api_base: str | None = None, max_bytes: int = DEFAULT_MAX_BYTES) -> None:
        self.fetcher = Fetcher(discord_origins(api_base), max_bytes=max_bytes)

    def allowed(self, url: str) -> bool:
        return self.fetcher.allowed(url)

    async def fetch(self, url: str, filename: str, declared_size: int | None = None) -> bytes:
        shown = _shown(filename)
        try:
            return await self.fetcher.fetch(url, shown, declared_size)
        except NotAllowed as exc:
            raise AttachmentError(
                f"'{shown}' is not a file uploaded to Discord (it points at {exc.host}); "
                "attach the image to the command itself."
            ) from exc
        except TooLarge as exc:
            raise AttachmentError(str(exc)) from exc
        except DownloadFailed as exc:
            raise AttachmentError(
                f"'{shown}' could not be downloaded from Discord ({exc.why}); try attaching it again."
            ) from exc

    async def close(self) -> None:
        await self.fetcher.close()


def _shown(filename: str) -> str:
    name = re.sub(r"[\x00-\x1f`]", "", filename)
    return name if len(name) <= 60 else name[:60] + "…"
