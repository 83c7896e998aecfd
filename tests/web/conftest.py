"""Fixtures of the web playground tests."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import redis.asyncio as aioredis
from aiohttp.test_utils import TestClient, TestServer

from tests.web.web_stack import Client, Stack, make_stack


@pytest.fixture
async def stack(redis: aioredis.Redis, tmp_data_dir: Path) -> AsyncIterator[Stack]:
    yield make_stack(redis, tmp_data_dir)


@pytest.fixture
async def client(stack: Stack) -> AsyncIterator[Client]:
    c: Client = TestClient(TestServer(stack.web.app, host="127.0.0.1"))
    await c.start_server()
    try:
        yield c
    finally:
        await c.close()
