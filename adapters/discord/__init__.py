"""The Discord adapter (discord.py): slash commands, number-reaction votes, buttons; a thread per campaign.

Wiring, inside the caller's event loop::

    presenter = DiscordPresenter()                       # goes into the service's presenters as "discord"
    service = CampaignService(redis, artifacts, {"discord": presenter, ...})
    adapter = discord_from_env(os.environ, service, presenter)   # None when DISCORD_TOKEN is not set
    if adapter is not None:
        await adapter.start()                            # returns once the gateway is ready
        ...
        await adapter.stop()

Settings: ``DISCORD_TOKEN`` (the bot token), ``DISCORD_API_URL`` (another API base, e.g. a proxy; the
gateway URL and the accepted attachment host follow it), ``DISCORD_APPROVER_ROLE`` (role name or id,
default ``approver``), ``DISCORD_GUILD_IDS`` (comma-separated: register the commands per guild, which
is immediate, instead of globally).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

from adapters.discord.client import DiscordAdapter, set_api_base
from adapters.discord.presenter import PLATFORM, ActionButton, DiscordPresenter
from bot.service import CampaignService


@dataclass(frozen=True)
class DiscordSettings:
    token: str
    api_url: str | None = None
    approver_role: str = "approver"
    guild_ids: tuple[int, ...] = ()

    def __repr__(self) -> str:  # never the token
        return (
            f"DiscordSettings(token=<{'set' if self.token else 'unset'}>, api_url={self.api_url!r}, "
            f"approver_role={self.approver_role!r}, guild_ids={self.guild_ids!r})"
        )

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> DiscordSettings | None:
        env = os.environ if environ is None else environ
        token = env.get("DISCORD_TOKEN", "").strip()
        if not token:
            return None
        raw_ids = env.get("DISCORD_GUILD_IDS", "")
        try:
            guild_ids = tuple(int(part) for part in raw_ids.replace(" ", ",").split(",") if part)
        except ValueError:
            raise ValueError(f"DISCORD_GUILD_IDS must be comma-separated numbers, not {raw_ids!r}") from None
        return cls(
            token=token,
            api_url=env.get("DISCORD_API_URL", "").strip() or None,
            approver_role=env.get("DISCORD_APPROVER_ROLE", "").strip() or "approver",
            guild_ids=guild_ids,
        )


def discord_adapter(
    settings: DiscordSettings, service: CampaignService, presenter: DiscordPresenter
) -> DiscordAdapter:
    return DiscordAdapter(
        settings.token,
        service,
        presenter,
        api_base=settings.api_url,
        approver_role=settings.approver_role,
        guild_ids=settings.guild_ids,
    )


def discord_from_env(
    environ: Mapping[str, str] | None, service: CampaignService, presenter: DiscordPresenter
) -> DiscordAdapter | None:
    """The adapter configured by the ``DISCORD_*`` settings, or None when ``DISCORD_TOKEN`` is unset."""
    settings = DiscordSettings.from_env(environ)
    return None if settings is None else discord_adapter(settings, service, presenter)


__all__ = [
    "PLATFORM",
    "ActionButton",
    "DiscordAdapter",
    "DiscordPresenter",
    "DiscordSettings",
    "discord_adapter",
    "discord_from_env",
    "set_api_base",
]
