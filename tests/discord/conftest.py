"""Fixtures of the Discord adapter tests: the fake Discord server and the stack around it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import discord
import pytest
import redis.asyncio as aioredis

from tests.discord.discord_stack import Stack, make_stack
from tests.discord.fake_discord import FakeDiscord


@pytest.fixture
async def fake() -> AsyncIterator[FakeDiscord]:
    server = FakeDiscord()
    await server.start()
    try:
        yield server
    finally:
        await server.stop()


@pytest.fixture
async def stack(redis: aioredis.Redis, tmp_data_dir: Path, fake: FakeDiscord) -> AsyncIterator[Stack]:
    original_base = discord.http.Route.BASE
    original_gateway = discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY
    s = make_stack(redis, tmp_data_dir, fake)
    try:
        await s.connect()
        yield s
    finally:
        await s.close()
        discord.http.Route.BASE = original_base
        discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = original_gateway
