"""Socket Mode: with an app token the adapter needs no public URL, no port and no signing secret; the
fake Slack hands out a WebSocket and drives a whole campaign over it, acknowledged envelope by envelope."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import redis.asyncio as aioredis

from adapters.slack import SlackAdapter, SlackConfigError, SlackPresenter
from bot.core.model import Stage
from bot.service import CampaignService
from engine.api import JobKind
from engine.artifacts import ArtifactStore
from tests.slack.fake_slack import BOT_TOKEN, FakeSlack
from tests.slack.slack_stack import SlackStack, wait_for
from tests.slack.test_slack_adapter import CHANNEL


@pytest.fixture
def stack_options() -> dict[str, Any]:
    return {"socket_mode": True}


async def test_a_whole_campaign_over_socket_mode(stack: SlackStack) -> None:
    fake, send, service = stack.fake, stack.sender, stack.service
    assert stack.adapter.port is None  # nothing listens: Slack is reached over the WebSocket
    [opened] = fake.calls_of("apps.connections.open")
    assert opened.authorized

    # /draft: acknowledged on the socket, then a thread with the drafts
    sent = await send.slash("/draft", "a paper boat --n 3 --quorum 1", user="U1", channel=CHANNEL)
    assert sent.status == 200
    await stack.settle()
    [parent] = [m for m in fake.messages.values() if m.thread_ts is None]
    [draft] = await stack.jobs()
    await stack.deliver(draft)
    campaign = await service.campaign(draft.campaign_id)
    assert campaign is not None and campaign.stage is Stage.VOTING
    [pictures] = fake.files_message(CHANNEL, parent.ts)

    # one vote, by a reaction on the pictures, meets the quorum of 1: the round closes and refines #2
    assert (await send.reaction("two", user="U2", channel=CHANNEL, ts=pictures.ts)).status == 200
    await stack.settle()
    campaign = await service.campaign(draft.campaign_id)
    assert campaign is not None and campaign.rounds[0].winners == [2]
    [refine] = [j for j in await stack.jobs() if j.kind is JobKind.REFINE]
    await stack.deliver(refine)
    campaign = await service.campaign(draft.campaign_id)
    assert campaign is not None and campaign.stage is Stage.EDITING

    # a thread command by plain message, acknowledged like the rest
    sent = await send.message(
        "status", user="U1", channel=CHANNEL, ts="1700005000.000001", thread_ts=parent.ts
    )
    assert sent.status == 200
    await stack.settle()
    assert fake.ephemerals_for("U1")

    # every envelope was acknowledged, once, by its id; nothing else came back on the socket
    sent_ids = [e["envelope_id"] for e in fake.socket.envelopes]
    assert sorted(a.envelope_id for a in fake.socket.acks) == sorted(sent_ids)
    assert {e["retry_attempt"] for e in fake.socket.envelopes} == {0}
    assert fake.socket.unexpected == []
    assert fake.refused == []


async def test_socket_mode_needs_an_app_level_token(
    redis: aioredis.Redis, tmp_data_dir: Path, fake: FakeSlack
) -> None:
    presenter = SlackPresenter(BOT_TOKEN, api_url=fake.api_url)
    service = CampaignService(redis, ArtifactStore(tmp_data_dir / "a"), presenters={"slack": presenter})
    with pytest.raises(SlackConfigError, match="xapp-"):
        SlackAdapter(BOT_TOKEN, None, service, presenter, app_token=BOT_TOKEN, api_url=fake.api_url)
    with pytest.raises(SlackConfigError, match="SLACK_APP_TOKEN"):
        SlackAdapter(BOT_TOKEN, None, service, presenter, api_url=fake.api_url)
    # a token Slack refuses stops the start with the reason instead of retrying forever
    adapter = SlackAdapter(
        BOT_TOKEN, None, service, presenter, app_token="xapp-1-revoked", api_url=fake.api_url
    )
    with pytest.raises(SlackConfigError, match="invalid_auth"):
        await adapter.start()
    await adapter.stop()
    assert fake.socket.connections == []


async def test_a_dropped_socket_is_reopened_with_a_new_url(stack: SlackStack) -> None:
    fake = stack.fake
    await fake.socket.disconnect_all()  # Slack refreshes connections now and then
    await wait_for(
        "a new Socket Mode connection",
        lambda: len(fake.calls_of("apps.connections.open")) == 2 and len(fake.socket.connections) == 1,
    )
    sent = await stack.sender.slash("/draft", "a paper boat --n 2", user="U1", channel=CHANNEL)
    assert sent.status == 200
    await stack.settle()
    assert len(await stack.jobs()) == 1
