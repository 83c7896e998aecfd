"""Settings of the Discord adapter and the attachment host allow-list."""

from __future__ import annotations

import pytest

from adapters.discord import DiscordSettings
from adapters.discord.attachments import AttachmentError, AttachmentFetcher


def test_settings_from_env_and_no_token_in_repr() -> None:
    assert DiscordSettings.from_env({}) is None
    settings = DiscordSettings.from_env(
        {
            "DISCORD_TOKEN": "sekrit-token",
            "DISCORD_API_URL": "http://127.0.0.1:9/api/v10",
            "DISCORD_APPROVER_ROLE": "art director",
            "DISCORD_GUILD_IDS": "1, 2",
        }
    )
    assert settings is not None
    assert settings.guild_ids == (1, 2) and settings.approver_role == "art director"
    assert settings.api_url == "http://127.0.0.1:9/api/v10"
    assert "sekrit" not in repr(settings)
    with pytest.raises(ValueError, match="DISCORD_GUILD_IDS"):
        DiscordSettings.from_env({"DISCORD_TOKEN": "t", "DISCORD_GUILD_IDS": "general"})


def test_only_discord_hosts_are_fetched() -> None:
    plain = AttachmentFetcher()
    assert plain.allowed("https://cdn.discordapp.com/attachments/1/2/fox.png")
    assert plain.allowed("https://media.discordapp.net/attachments/1/2/fox.png?width=64")
    assert not plain.allowed("http://cdn.discordapp.com/attachments/1/2/fox.png")
    assert not plain.allowed("https://cdn.discordapp.com.evil.example/fox.png")
    assert not plain.allowed("https://user@cdn.discordapp.com/fox.png")
    assert not plain.allowed("https://cdn.discordapp.com:8443/fox.png")
    assert not plain.allowed("http://127.0.0.1:8080/cdn/fox.png")
    local = AttachmentFetcher(api_base="http://127.0.0.1:8080/api/v10")
    assert local.allowed("http://127.0.0.1:8080/cdn/fox.png")
    assert not local.allowed("http://127.0.0.1:8081/cdn/fox.png")
    assert not local.allowed("http://localhost:8080/cdn/fox.png")


async def test_a_refused_host_is_never_contacted() -> None:
    fetcher = AttachmentFetcher()
    with pytest.raises(AttachmentError, match="not a file uploaded to Discord"):
        await fetcher.fetch("http://192.0.2.1/fox.png", "fox.png")
    assert fetcher._session is None
