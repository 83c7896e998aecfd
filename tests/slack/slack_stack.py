"""Test helpers: the Slack adapter over the real service and a real Redis, talking to ``FakeSlack``,
over HTTP (signed requests to the adapter's URL) or over Socket Mode (envelopes on the fake's WebSocket).

``deliver`` plays the engine: it stores one PNG per seed in the artifact store and applies the result.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import redis.asyncio as aioredis

from adapters.slack import SlackAdapter, SlackPresenter
from bot.service import CampaignService
from engine.artifacts import ArtifactStore
from tests.slack.fake_slack import APP_TOKEN, BOT_TOKEN, SIGNING_SECRET, FakeSlack, SlackSender
from tests.slack.socket_sender import SocketModeSender
from tests.support.engine_standin import EngineStandIn

WAIT_SECONDS = 15.0


@dataclass
class SlackStack(EngineStandIn):
    redis: aioredis.Redis
    fake: FakeSlack
    presenter: SlackPresenter
    service: CampaignService
    artifacts: ArtifactStore
    adapter: SlackAdapter
    sender: SlackSender

    async def settle(self) -> None:
        """Wait (bounded) for the work the adapter scheduled for the requests sent so far."""
        assert await self.adapter.drain(WAIT_SECONDS), "the adapter's background work did not finish"

    async def close(self) -> None:
        await self.adapter.stop()


async def wait_for(what: str, check: Callable[[], Any], seconds: float = WAIT_SECONDS) -> Any:
    """Poll ``check`` until it returns something truthy; fail naming ``what`` after ``seconds``."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + seconds
    while True:
        value = check()
        if asyncio.iscoroutine(value):
            value = await value
        if value:
            return value
        if loop.time() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.02)


async def make_stack(
    redis: aioredis.Redis,
    data_dir: Path,
    fake: FakeSlack,
    *,
    approvers: tuple[str, ...] = (),
    artifacts: ArtifactStore | None = None,
    socket_mode: bool = False,
) -> SlackStack:
    """A fresh presenter, service and adapter (as after a restart) over the given Redis and fake Slack;
    ``socket_mode``: connected with the app token, no signing secret and no HTTP listener."""
    artifacts = artifacts or ArtifactStore(data_dir / "artifacts")
    presenter = SlackPresenter(BOT_TOKEN, api_url=fake.api_url)
    service = CampaignService(redis, artifacts, presenters={"slack": presenter})
    adapter = SlackAdapter(
        BOT_TOKEN,
        None if socket_mode else SIGNING_SECRET,
        service,
        presenter,
        app_token=APP_TOKEN if socket_mode else None,
        api_url=fake.api_url,
        approver_user_ids=approvers,
    )
    await adapter.start("127.0.0.1", 0)
    sender: SlackSender
    if socket_mode:
        sender = SocketModeSender(fake)
    else:
        url = f"http://127.0.0.1:{adapter.port}{adapter.path}"
        sender = SlackSender(url, response_url=fake.response_url, fake=fake)
    return SlackStack(redis, fake, presenter, service, artifacts, adapter, sender)
