"""A delivery's files on Slack: uploaded into the campaign's thread once, after the message."""

from __future__ import annotations

import os

from bot.core.messages import Message, MessageFile, MessageKind
from bot.state.post_log import MemoryPostLog
from tests.slack.slack_stack import SlackStack
from tests.slack.test_slack_adapter import CHANNEL, start_campaign


async def test_delivery_files_are_uploaded_into_the_thread_once(stack: SlackStack) -> None:
    fake = stack.fake
    started = await start_campaign(stack, n=2)
    thread = started.thread
    zipped, sheet = os.urandom(3000), os.urandom(1500)
    files = [
        MessageFile(name="fox-finals.zip", artifact=stack.artifacts.put(zipped), size=3000),
        MessageFile(name="fox-contact-sheet.png", artifact=stack.artifacts.put(sheet), size=1500),
    ]
    message = Message(kind=MessageKind.TEXT, campaign_id=started.campaign_id, text="Delivery", files=files)
    sharing_before = len(fake.files_message(CHANNEL, started.thread_ts))

    log = MemoryPostLog()
    await stack.presenter.post(thread, message, log)
    await stack.presenter.post(thread, message, log)  # a retry uploads nothing again

    shared = fake.files_message(CHANNEL, started.thread_ts)[sharing_before:]
    assert len(shared) == 1
    got = {fake.files[i].name: fake.files[i].data for i in shared[0].files}
    assert got == {"fox-finals.zip": zipped, "fox-contact-sheet.png": sheet}
    assert any(m.text.startswith("Delivery") for m in fake.in_thread(CHANNEL, started.thread_ts))
