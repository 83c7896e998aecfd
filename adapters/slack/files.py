"""Files attached to Slack messages: fetched only from Slack's file hosts, with the bot token and a limit."""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

from bot.fetching import DownloadFailed, Fetcher, NotAllowed, Origin, TooLarge, megabytes
from bot.usecases import uploads

SLACK_FILE_HOSTS: tuple[str, ...] = ("files.slack.com",)
MAX_FILES = 8
DOWNLOAD_TIMEOUT = 30.0


class AttachmentRefused(Exception):
    """A message a user can read: why an attached file was not used."""


def slack_origins(api_url: str | None, extra_hosts: Collection[str]) -> list[Origin]:
    """Slack's file hosts, any ``extra_hosts`` (``host[:port]`` or a URL) and the origin of ``api_url``."""
    origins = [Origin("https", host) for host in SLACK_FILE_HOSTS]
    origins += [Origin.of(host) for host in extra_hosts]
    if api_url:
        origins.append(Origin.of(api_url))
    return origins


class SlackFiles:
    """Reads the files of one message into ``{file name: bytes}`` for the service."""

    def __init__(
        self,
        bot_token: str,
        *,
        api_url: str | None = None,
        extra_hosts: Collection[str] = (),
        max_bytes: int = uploads.MAX_BYTES,
    ) -> None:
        self.fetcher = Fetcher(
            slack_origins(api_url, extra_hosts),
            max_bytes=max_bytes,
            headers={"Authorization": f"Bearer {bot_token}"},
            timeout_seconds=DOWNLOAD_TIMEOUT,
        )

    async def read(self, files: list[dict[str, Any]]) -> dict[str, bytes]:
        if len(files) > MAX_FILES:
            raise AttachmentRefused(f"Attach at most {MAX_FILES} files to one command.")
        out: dict[str, bytes] = {}
        for f in files:
            name = str(f.get("name") or f.get("title") or f.get("id") or "file")
            url = str(f.get("url_private_download") or f.get("url_private") or "")
            size = f.get("size")
            try:
                out[name] = await self.fetcher.fetch(url, name, size if isinstance(size, int) else None)
            except NotAllowed as exc:
                raise AttachmentRefused(
                    f"'{name}' was not used: attachments are only fetched from Slack's own file hosts, "
                    f"and this one is at {exc.host}. Upload the image to Slack and try again."
                ) from exc
            except TooLarge as exc:
                raise AttachmentRefused(
                    f"'{name}' is larger than {megabytes(exc.max_bytes)}; attach a smaller image."
                ) from exc
            except DownloadFailed as exc:
                raise AttachmentRefused(f"'{name}' could not be fetched from Slack ({exc.why}).") from exc
        return out

    async def close(self) -> None:
        await self.fetcher.close()
