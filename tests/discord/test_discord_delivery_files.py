"""A delivery's files on Discord: uploaded when within the guild's limit, a link to the full file if not."""

from __future__ import annotations

import os

from bot.core.messages import Message, MessageFile, MessageKind
from bot.core.model import ThreadRef
from bot.state.post_log import MemoryPostLog
from tests.discord.discord_stack import Stack
from tests.discord.fake_discord import CHANNEL_ID
from tests.discord.test_discord_adapter import draft


def delivery(stack: Stack, campaign_id: str, files: dict[str, bytes]) -> Message:
    attached = [
        MessageFile(
            name=name, artifact=stack.artifacts.put(data), size=len(data), media_type="application/zip"
        )
        for name, data in files.items()
    ]
    return Message(kind=MessageKind.TEXT, campaign_id=campaign_id, text="Delivery for alice", files=attached)


async def test_delivery_files_are_uploaded_within_the_limit_and_linked_over_it(stack: Stack) -> None:
    fake = stack.fake
    campaign_id, thread_id, _ = await draft(stack, fake.add_user("alice"), n=2)
    thread = ThreadRef(platform="discord", channel_id=CHANNEL_ID, thread_id=thread_id)
    small, big = os.urandom(2000), os.urandom(fake.upload_limit + 1000)
    message = delivery(stack, campaign_id, {"fox-finals.zip": small, "fox-contact-sheet.png": big})
    before = {m.id for m in fake.in_channel(thread_id)}

    log = MemoryPostLog()
    await stack.presenter.post(thread, message, log)

    sent = [m for m in fake.in_channel(thread_id) if m.id not in before]
    assert "Delivery for alice" in sent[0].content
    [uploaded] = [m for m in sent if m.data["attachments"]]
    assert [(a["filename"], a["size"]) for a in uploaded.data["attachments"]] == [("fox-finals.zip", 2000)]
    [note] = [m for m in sent if "over this channel's upload limit" in m.content]
    artifact = message.files[1].artifact
    assert "fox-contact-sheet.png" in note.content and f"/artifacts/{artifact}" in note.content

    # a retry of the same post sends nothing again
    await stack.presenter.post(thread, message, log)
    assert len([m for m in fake.in_channel(thread_id) if m.id not in before]) == len(sent)
