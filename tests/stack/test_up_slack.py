"""`draftloop up` with Slack settings: the real slack-bolt app, the real engine, a fake Slack Web API,
over HTTP (signed requests) and over Socket Mode (the fake's WebSocket)."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path

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


async def test_up_serves_slack_end_to_end(tmp_path: Path) -> None:
    fake = await FakeSlack().start()
    data_dir = tmp_path / "data"
    slack_port = free_port()
    up = UpProcess(
        data_dir,
        free_port(),
        {
            "SLACK_BOT_TOKEN": BOT_TOKEN,
            "SLACK_SIGNING_SECRET": SIGNING_SECRET,
            "SLACK_API_URL": fake.api_url,
            "SLACK_PORT": str(slack_port),
        },
    )
    try:
        await asyncio.to_thread(up.wait_ready)
        assert "adapters: web, slack" in up.output()
        sender = SlackSender(f"http://127.0.0.1:{slack_port}/slack/events")
        refused = await sender.slash(
            "/draft", "a kite over dunes --n 2", user="UANA", channel="C1", bad_signature=True
        )
        assert refused.status == 401
        sent = await sender.slash("/draft", "a kite over dunes --n 2", user="UANA", channel="C1")
        assert sent.status == 200

        def shared_images() -> list[object]:
            return [f for f in fake.files.values() if f.uploaded and f.shared_to]

        # the worker in `up` drafts both images; the bot uploads them into the campaign thread
        await eventually("two drafts uploaded into the thread", lambda: len(shared_images()) >= 2, 240)
        await eventually("number reactions seeded", lambda: len(fake.reactions) >= 2, 30)
        titles = sorted(str(getattr(f, "title", "")) for f in shared_images())
        assert [re.findall(r"#\d+", t) for t in titles] == [["#1"], ["#2"]], titles  # each number once
        assert BOT_TOKEN not in up.output() and SIGNING_SECRET not in up.output()
    finally:
        code = await asyncio.to_thread(up.stop)
        await fake.stop()
    assert code == 0, up.output()
    assert processes_mentioning(str(data_dir)) == []


async def test_up_serves_slack_over_socket_mode_without_a_port_or_signing_secret(tmp_path: Path) -> None:
    fake = await FakeSlack().start()
    data_dir = tmp_path / "data"
    slack_port = free_port()
    up = UpProcess(
        data_dir,
        free_port(),
        {
            "SLACK_BOT_TOKEN": BOT_TOKEN,
            "SLACK_APP_TOKEN": APP_TOKEN,
            "SLACK_API_URL": fake.api_url,
            "SLACK_PORT": str(slack_port),
        },
    )
    try:
        await asyncio.to_thread(up.wait_ready)
        assert "adapters: web, slack (socket mode)" in up.output()
        await asyncio.wait_for(fake.socket.connected.wait(), 30)
        with pytest.raises(OSError):  # Socket Mode opens no port
            _, writer = await asyncio.open_connection("127.0.0.1", slack_port)
            writer.close()
        sender = SocketModeSender(fake)
        sent = await sender.slash("/draft", "a kite over dunes --n 2", user="U1", channel="C1")
        assert sent.status == 200  # acknowledged on the socket

        def shared_images() -> list[object]:
            return [f for f in fake.files.values() if f.uploaded and f.shared_to]

        await eventually("two drafts uploaded into the thread", lambda: len(shared_images()) >= 2, 240)
        await eventually("number reactions seeded", lambda: len(fake.reactions) >= 2, 30)
        assert fake.refused == []
        assert APP_TOKEN not in up.output() and BOT_TOKEN not in up.output()
    finally:
        code = await asyncio.to_thread(up.stop)
        await fake.stop()
    assert code == 0, up.output()
    assert processes_mentioning(str(data_dir)) == []
