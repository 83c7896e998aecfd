"""Slack's documented limits, enforced by the fake: blocks and section sizes, Tier 3 rate limits (a 429
becomes ``RateLimited``, and a post resumes where it stopped), and scopes."""

from __future__ import annotations

import json
import time

import pytest

from adapters.slack.presenter import SlackPresenter
from bot.core.render import voting_grid
from bot.ports import RateLimited
from bot.state.post_log import MemoryPostLog, RedisPostLog
from tests.slack import slack_rules as rules
from tests.slack.fake_slack import BOT_TOKEN, BOT_USER_ID, FakeSlack
from tests.slack.slack_stack import SlackStack
from tests.slack.test_slack_adapter import CHANNEL, start_campaign


async def test_the_fake_refuses_what_slack_refuses(fake: FakeSlack) -> None:
    presenter = SlackPresenter(BOT_TOKEN, api_url=fake.api_url)
    parent = await presenter.client.chat_postMessage(channel=CHANNEL, text="parent")
    section = {"type": "section", "text": {"type": "mrkdwn", "text": "x"}}
    too_many = [section] * (rules.MAX_BLOCKS + 1)
    too_long = [{"type": "section", "text": {"type": "mrkdwn", "text": "x" * (rules.MAX_SECTION_TEXT + 1)}}]
    for blocks in (too_many, too_long):
        with pytest.raises(Exception, match="invalid_blocks"):
            await presenter.client.chat_postMessage(channel=CHANNEL, text="t", blocks=blocks)
    reply = await presenter.client.chat_postMessage(channel=CHANNEL, text="r", thread_ts=parent["ts"])
    with pytest.raises(Exception, match="thread_not_found"):
        await presenter.client.chat_postMessage(channel=CHANNEL, text="r", thread_ts=reply["ts"])
    fake.scopes.discard("reactions:write")
    with pytest.raises(Exception, match="missing_scope"):
        await presenter.client.reactions_add(channel=CHANNEL, timestamp=parent["ts"], name="one")


async def test_a_ten_image_grid_fits_slacks_block_limits(stack: SlackStack) -> None:
    started = await start_campaign(stack, n=10)
    fake = stack.fake
    assert fake.refused == []
    posts = [c for c in fake.calls_of("chat.postMessage") if c.args.get("blocks")]
    assert posts and all(rules.blocks_problem(_blocks(c.args["blocks"])) is None for c in posts)
    seeded = [name for ch, ts, name, _ in fake.reactions if (ch, ts) == (CHANNEL, started.grid.ts)]
    assert len(seeded) == 10


def _blocks(raw: object) -> list[dict[str, object]]:
    blocks = json.loads(raw) if isinstance(raw, str) else raw
    assert isinstance(blocks, list)
    return blocks


async def test_a_rate_limited_status_edit_raises_instead_of_sleeping(stack: SlackStack) -> None:
    started = await start_campaign(stack, n=2)
    fake, presenter = stack.fake, stack.presenter
    fake.per_minute["chat.update"] = 2
    fake.new_minute()
    thread = started.thread
    line = await presenter.post_status(thread, "step 1/4")
    await presenter.edit_status(thread, line, "step 2/4")
    await presenter.edit_status(thread, line, "step 3/4")
    began = time.monotonic()
    with pytest.raises(RateLimited) as limited:
        await presenter.edit_status(thread, line, "step 4/4")
    assert time.monotonic() - began < 1.0  # told to wait, not waited
    assert 0 < limited.value.retry_after <= 60
    assert fake.rate_limited == ["chat.update"]
    assert fake.messages[(CHANNEL, line.split(":")[1])].text == "step 3/4"


async def test_a_post_stopped_by_a_rate_limit_resumes_where_it_stopped(stack: SlackStack) -> None:
    started = await start_campaign(stack, n=4)
    fake, presenter = stack.fake, stack.presenter
    campaign = await stack.service.campaign(started.campaign_id)
    assert campaign is not None
    thread = started.thread
    message = voting_grid(campaign, campaign.rounds[0])
    log = RedisPostLog(
        stack.redis, "effect-resume", platform="slack", campaign_id=campaign.id, round_no=message.round_no
    )
    fake.per_minute["reactions.add"] = 2
    fake.new_minute()
    before = set(fake.messages)

    with pytest.raises(RateLimited):
        await presenter.post(thread, message, log)
    fake.new_minute()
    posted = await presenter.post(thread, message, log)

    new = [m for key, m in fake.messages.items() if key not in before]
    assert len([m for m in new if m.files]) == 1  # the pictures once
    assert len([m for m in new if m.blocks]) == 1  # the listing once
    seeded = [name for ch, ts, name, user in fake.reactions if f"{ch}:{ts}" == posted and user == BOT_USER_ID]
    assert seeded == ["one", "two", "three", "four"]  # each once, in order
    parts = await log.parts()
    assert parts["listing"] == posted and parts["files"].startswith(f"{CHANNEL}:")
    # both messages are vote targets of the round
    for target in (posted, parts["files"]):
        assert await stack.service.messages.lookup("slack", target) == (campaign.id, message.round_no)


async def test_a_finished_post_is_not_shown_again(stack: SlackStack) -> None:
    started = await start_campaign(stack, n=2)
    fake = stack.fake
    campaign = await stack.service.campaign(started.campaign_id)
    assert campaign is not None
    thread = started.thread
    log = MemoryPostLog()
    message = voting_grid(campaign, campaign.rounds[0])
    first = await stack.presenter.post(thread, message, log)
    calls = len(fake.calls)
    assert await stack.presenter.post(thread, message, log) == first
    assert [c.method for c in fake.calls[calls:]] == []
