"""`draftloop up` with Slack settings: the real slack-bolt app, the real engine, a fake Slack Web API,
over HTTP (signed requests) and over Socket Mode (the fake's WebSocket)."""

from __future__ import annotations

import asyncio
import contextlib
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.slack.fake_slack import APP_TOKEN, BOT_TOKEN, SIGNING_SECRET, FakeSlack, SlackSender
from tests.slack.socket_sender import SocketModeSender
from tests.stack.upstack import UpProcess, free_port, processes_mentioning

pytestmark = pytest.mark.slow


async def eventually(what: str, check: object, seconds: float) -> object:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + seconds
    while loop.time() < deadline:
        value = check() if callable(check) else check
        if value:
            return value
        await asyncio.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


@dataclass
class SlackUp:
    fake: FakeSlack
    up: UpProcess
    slack_port: int


@contextlib.asynccontextmanager
async def up_with_slack(tmp_path: Path, settings: dict[str, str]) -> AsyncIterator[SlackUp]:
    """`draftloop up` against a fake Slack, with the bot token and ``settings``; it must stop cleanly,
    leaving no process behind."""
    fake = await FakeSlack().start()
    data_dir = tmp_path / "data"
    slack_port = free_port()
    env = {"SLACK_BOT_TOKEN": BOT_TOKEN, "SLACK_API_URL": fake.api_url, "SLACK_PORT": str(slack_port)}
    up = UpProcess(data_dir, free_port(), {**env, **settings})
    try:
        await asyncio.to_thread(up.wait_ready)
        yield SlackUp(fake, up, slack_port)
    finally:
        code = await asyncio.to_thread(up.stop)
        await fake.stop()
    assert code == 0, up.output()
    assert processes_mentioning(str(data_dir)) == []


async def two_drafts_shown(fake: FakeSlack) -> list[Any]:
    """Waits until the worker in `up` drafted both images and the bot uploaded them into the campaign
    thread with their number reactions; returns the uploaded files."""

    def shared_images() -> list[Any]:
        return [f for f in fake.files.values() if f.uploaded and f.shared_to]

    await eventually("two drafts uploaded into the thread", lambda: len(shared_images()) >= 2, 240)
    await eventually("number reactions seeded", lambda: len(fake.reactions) >= 2, 30)
    return shared_images()


async def test_up_serves_slack_end_to_end(tmp_path: Path) -> None:
    async with up_with_slack(tmp_path, {"SLACK_SIGNING_SECRET": SIGNING_SECRET}) as stack:
        assert "adapters: web, slack" in stack.up.output()
        sender = SlackSender(f"http://127.0.0.1:{stack.slack_port}/slack/events")
        refused = await sender.slash(
            "/draft", "a kite over dunes --n 2", user="UANA", channel="C1", bad_signature=True
        )
        assert refused.status == 401
        sent = await sender.slash("/draft", "a kite over dunes --n 2", user="UANA", channel="C1")
        assert sent.status == 200
        titles = sorted(str(getattr(f, "title", "")) for f in await two_drafts_shown(stack.fake))
        assert [re.findall(r"#\d+", t) for t in titles] == [["#1"], ["#2"]], titles  # each number once
        assert BOT_TOKEN not in stack.up.output() and SIGNING_SECRET not in stack.up.output()


async def test_up_serves_slack_over_socket_mode_without_a_port_or_signing_secret(tmp_path: Path) -> None:
    async with up_with_slack(tmp_path, {"SLACK_APP_TOKEN": APP_TOKEN}) as stack:
        fake = stack.fake
        assert "adapters: web, slack (socket mode)" in stack.up.output()
        await asyncio.wait_for(fake.socket.connected.wait(), 30)
        with pytest.raises(OSError):  # Socket Mode opens no port
            _, writer = await asyncio.open_connection("127.0.0.1", stack.slack_port)
            writer.close()
        sender = SocketModeSender(fake)
        sent = await sender.slash("/draft", "a kite over dunes --n 2", user="U1", channel="C1")
        assert sent.status == 200  # acknowledged on the socket
        await two_drafts_shown(fake)
        assert fake.refused == []
        assert APP_TOKEN not in stack.up.output() and BOT_TOKEN not in stack.up.output()
