"""Fixtures of the Slack adapter tests: a fake Slack on 127.0.0.1 and the stack over it.

A module that needs the stack built differently overrides ``stack_options`` (``make_stack``'s keywords).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import redis.asyncio as aioredis

from tests.slack.fake_slack import FakeSlack
from tests.slack.slack_stack import SlackStack, make_stack


@pytest.fixture
async def fake() -> AsyncIterator[FakeSlack]:
    server = await FakeSlack().start()
    try:
        yield server
    finally:
        await server.stop()


@pytest.fixture
def stack_options() -> dict[str, Any]:
    return {}


@pytest.fixture
async def stack(
    redis: aioredis.Redis, tmp_data_dir: Path, fake: FakeSlack, stack_options: dict[str, Any]
) -> AsyncIterator[SlackStack]:
    s = await make_stack(redis, tmp_data_dir, fake, **stack_options)
    try:
        yield s
    finally:
        await s.close()
