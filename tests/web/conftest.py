"""Fixtures of the web playground tests."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import redis.asyncio as aioredis

from tests.web.web_stack import Stack, make_stack


@pytest.fixture
async def stack(redis: aioredis.Redis, tmp_data_dir: Path) -> AsyncIterator[Stack]:
    yield make_stack(redis, tmp_data_dir)
