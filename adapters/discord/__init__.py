"""The Discord adapter (discord.py): slash commands, number-reaction votes, buttons; a thread per campaign.

Wiring, inside the caller's event loop::

    presenter = DiscordPresenter()                       # goes into the service's presenters as "discord"
    service = CampaignService(redis, artifacts, {"discord": presenter, ...})
    settings = discord_settings(config)                  # None when DISCORD_TOKEN is not set
    if settings is not None:
        adapter = discord_adapter(settings, service, presenter)
        await adapter.start()                            # returns once the gateway is ready
        ...
        await adapter.stop()

Settings (``bot.config.Config``): ``DISCORD_TOKEN`` (the bot token), ``DISCORD_API_URL`` (another API
base, e.g. a proxy; the gateway URL and the accepted attachment host follow it), ``DISCORD_APPROVER_ROLE``
(role name or id, default ``approver``), ``DISCORD_GUILD_IDS`` (comma-separated: register the commands
per guild, which is immediate, instead of globally).
"""

from __future__ import annotations

from dataclasses import dataclass

from adapters.discord.buttons import ActionButton
from adapters.discord.client import DiscordAdapter, set_api_base
from adapters.discord.presenter import PLATFORM, DiscordPresenter
from bot.config import Config
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


def discord_settings(config: Config) -> DiscordSettings | None:
    """The adapter's settings from the configuration, or None when ``DISCORD_TOKEN`` is not set
    (``load_config`` has already refused guild ids that are not numbers)."""
    token = (config.discord_token or "").strip()
    if not token:
        return None
    raw_ids = (config.discord_guild_ids or "").replace(" ", ",")
    return DiscordSettings(
        token=token,
        api_url=(config.discord_api_url or "").strip() or None,
        approver_role=config.discord_approver_role.strip() or "approver",
        guild_ids=tuple(int(part) for part in raw_ids.split(",") if part),
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


__all__ = [
    "PLATFORM",
    "ActionButton",
    "DiscordAdapter",
    "DiscordPresenter",
    "DiscordSettings",
    "discord_adapter",
    "discord_settings",
    "set_api_base",
]
