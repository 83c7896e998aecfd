"""`draftloop up` with DISCORD_TOKEN set: the real discord.py client, the real engine, a fake Discord."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path

import pytest

from tests.discord.fake_discord import FakeDiscord
from tests.stack.upstack import UpProcess, free_port, processes_mentioning

pytestmark = pytest.mark.slow


async def test_up_serves_discord_end_to_end(tmp_path: Path) -> None:
    fake = FakeDiscord()
    await fake.start()
    data_dir = tmp_path / "data"
    up = UpProcess(
        data_dir,
        free_port(),
        {"DISCORD_TOKEN": "test-token-not-a-secret", "DISCORD_API_URL": fake.api_base},
    )
    try:
        await asyncio.to_thread(up.wait_ready)
        assert "adapters: web, discord" in up.output()
        assert fake.commands, "the slash commands were never registered"
        ana = fake.add_user("ana")
        await fake.slash(ana, "draft", {"prompt": "a paper boat on a pond", "n": 2})
        await fake.wait_for("a campaign thread", lambda: fake.threads(), within=60)
        thread_id = str(fake.threads()[-1]["id"])

        def grid() -> object:
            for msg in fake.in_channel(thread_id):
                if len(msg.data.get("attachments", [])) == 2:
                    return msg
            return None

        # the worker in `up` really drafts both images; the bot posts them with number reactions
        msg = await fake.wait_for("the grid of drafts", grid, within=240)
        assert await fake.wait_for(
            "seeded reactions", lambda: len(fake.bot_reactions(msg.id)) == 2, within=30
        )
        content = str(getattr(msg, "content", ""))
        for n in (1, 2):  # each caption names its number once
            assert re.findall(rf"#{n}\b", content) == [f"#{n}"], content
        assert "test-token-not-a-secret" not in up.output()
    finally:
        code = await asyncio.to_thread(up.stop)
        await fake.stop()
    assert code == 0, up.output()
    assert processes_mentioning(str(data_dir)) == []
