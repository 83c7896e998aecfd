"""Settings of the Discord adapter and the attachment host allow-list."""

from __future__ import annotations

import pytest
from aiohttp import web

from adapters.discord import discord_settings
from adapters.discord.attachments import AttachmentError, AttachmentFetcher
from bot.config import ConfigError, load_config
from bot.fetching import Fetcher, Origin, TooLarge


def test_settings_from_the_config_and_no_token_in_repr() -> None:
    assert discord_settings(load_config({})) is None
    settings = discord_settings(
        load_config(
            {
                "DISCORD_TOKEN": "sekrit-token",
                "DISCORD_API_URL": "http://127.0.0.1:9/api/v10",
                "DISCORD_APPROVER_ROLE": "art director",
                "DISCORD_GUILD_IDS": "1, 2",
            }
        )
    )
    assert settings is not None
    assert settings.guild_ids == (1, 2) and settings.approver_role == "art director"
    assert settings.api_url == "http://127.0.0.1:9/api/v10"
    assert "sekrit" not in repr(settings)
    with pytest.raises(ConfigError, match="DISCORD_GUILD_IDS"):
        load_config({"DISCORD_TOKEN": "t", "DISCORD_GUILD_IDS": "general"})


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
    assert fetcher.fetcher._session is None


async def test_a_download_is_cut_off_at_the_byte_limit_while_streaming() -> None:
    async def chunked(request: web.Request) -> web.StreamResponse:
        resp = web.StreamResponse()  # no Content-Length: only the bytes received tell the size
        resp.enable_chunked_encoding()
        await resp.prepare(request)
        for _ in range(8):
            await resp.write(b"x" * 1000)
        await resp.write_eof()
        return resp

    app = web.Application()
    app.router.add_get("/cdn/big.png", chunked)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    fetcher = Fetcher([Origin("http", "127.0.0.1", port)], max_bytes=5000)
    try:
        with pytest.raises(TooLarge, match="larger than the 5 kB limit") as caught:
            await fetcher.fetch(f"http://127.0.0.1:{port}/cdn/big.png", "big.png")
        assert caught.value.max_bytes == 5000
        roomy = Fetcher([Origin("http", "127.0.0.1", port)], max_bytes=8000)
        assert await roomy.fetch(f"http://127.0.0.1:{port}/cdn/big.png", "big.png") == b"x" * 8000
        await roomy.close()
    finally:
        await fetcher.close()
        await runner.cleanup()
