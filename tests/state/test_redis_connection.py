"""The bot's Redis client: a burst larger than the pool waits, an exhausted pool says "busy", a dead server
says "reconnecting", and the client works again once the server is back with its data."""

from __future__ import annotations

import asyncio
import os
import signal
from pathlib import Path

import pytest
from redis.exceptions import ConnectionError as RedisConnectionError

from bot.availability import BotBusy, BotReconnecting
from bot.redis_server import EmbeddedRedis
from bot.state.connection import RedisHealth, connect_redis, health_of
from bot.state.votes import VoteStore


async def test_a_burst_larger_than_the_pool_waits_for_connections_and_loses_nothing(
    redis_server: EmbeddedRedis,
) -> None:
    client = connect_redis(redis_server.url, max_connections=4, wait_seconds=10.0)
    votes = VoteStore(client)
    await client.flushall()
    try:
        users = [f"user{i}" for i in range(300)]
        voting = (votes.add("burst", 1, 3, user, float(i)) for i, user in enumerate(users))
        results = await asyncio.gather(*voting, return_exceptions=True)
        assert [r for r in results if isinstance(r, BaseException)] == []
        assert (await votes.counts("burst", 1, [3]))[3] == len(users)
        assert client.connection_pool.max_connections == 4
    finally:
        await client.aclose()


async def test_a_pool_exhausted_past_its_wait_raises_busy(redis_server: EmbeddedRedis) -> None:
    client = connect_redis(redis_server.url, max_connections=2, wait_seconds=0.2)
    health = health_of(client)
    assert health is not None
    holders = [client.blpop(["never-pushed"], timeout=2) for _ in range(2)]  # type: ignore[misc]
    held = [asyncio.ensure_future(h) for h in holders]
    try:
        await asyncio.sleep(0.1)
        with pytest.raises(BotBusy) as caught:
            await client.get("anything")
        assert isinstance(caught.value, RedisConnectionError)  # old handlers of ConnectionError still apply
        assert caught.value.retry_after_seconds > 0
        assert health.busy_refusals == 1
        assert health.up  # busy is not an outage
    finally:
        await asyncio.gather(*held)
        await client.aclose()
    assert "busy" in caught.value.text


async def test_a_killed_server_makes_commands_raise_reconnecting_until_it_is_back(tmp_path: Path) -> None:
    server = EmbeddedRedis(tmp_path / "redis")
    await server.astart()
    health = RedisHealth()
    client = connect_redis(server.url, health)
    try:
        await client.set("kept", "yes")
        await client.execute_command("CONFIG", "SET", "appendfsync", "always")
        await client.set("kept-too", "yes")
        proc = server._proc
        assert proc is not None
        os.kill(proc.pid, signal.SIGKILL)
        await asyncio.to_thread(proc.wait)
        for _ in range(3):
            with pytest.raises(BotReconnecting) as caught:
                await client.get("kept")
        assert caught.value.text.startswith("The bot is reconnecting")
        assert not health.up and health.outages == 1
        await server.astart()
        assert await client.get("kept-too") == b"yes"
        assert health.up and health.outages == 1
    finally:
        await client.aclose()
        await asyncio.to_thread(server.stop)
