"""Slack under its own rules: commands in threads are messages, /dl in a channel answers there and names
its campaign, and reactions on the pictures are votes."""

from __future__ import annotations

import pytest

from bot.core.model import ThreadRef
from engine.api import JobKind
from tests.slack.fake_slack import BOT_USER_ID
from tests.slack.slack_stack import SlackStack
from tests.slack.test_slack_adapter import CHANNEL, start_campaign


async def _new_jobs(stack: SlackStack, known: set[str]) -> list[str]:
    await stack.settle()
    fresh = [j.job_id for j in await stack.jobs() if j.job_id not in known]
    known.update(fresh)
    return fresh


async def test_plain_messages_starting_with_a_command_word_are_commands_in_a_campaign_thread(
    stack: SlackStack,
) -> None:
    started = await start_campaign(stack, n=4)
    fake, send = stack.fake, stack.sender
    known = {j.job_id for j in await stack.jobs()}
    ts = iter(f"1700004000.{i:06d}" for i in range(1, 100))

    # Slack sends no app slash command from a thread: there, a command is a message
    await send.message("vary 3", user="U2", channel=CHANNEL, ts=next(ts), thread_ts=started.thread_ts)
    [varied] = await _new_jobs(stack, known)
    [job] = [j for j in await stack.jobs() if j.job_id == varied]
    assert (job.kind, job.campaign_id) == (JobKind.VARIATION, started.campaign_id)
    await stack.deliver(job)  # the variations open the next vote

    # chatter, even chatter that holds a number or a command word later on, is not a command
    for chatter in ("nice, I like 2", "I'd vary 3 more", "3 looks great"):
        await send.message(chatter, user="U3", channel=CHANNEL, ts=next(ts), thread_ts=started.thread_ts)
    assert await _new_jobs(stack, known) == []
    assert fake.ephemerals_for("U3") == []

    # a mention is a command too; so is a line with Slack's leading slash
    mention = f"<@{BOT_USER_ID}> reroll"
    await send.message(mention, user="U3", channel=CHANNEL, ts=next(ts), thread_ts=started.thread_ts)
    assert len(await _new_jobs(stack, known)) == 1

    # a command that does not fit the stage is answered to its author, in the thread
    await send.message("upscale 5", user="U3", channel=CHANNEL, ts=next(ts), thread_ts=started.thread_ts)
    assert await _new_jobs(stack, known) == []
    [answer] = fake.ephemerals_for("U3")
    assert answer.thread_ts == started.thread_ts and answer.channel == CHANNEL

    # "help" in the thread explains how commands are typed here: as messages that mention the bot
    await send.message("help", user="U1", channel=CHANNEL, ts=next(ts), thread_ts=started.thread_ts)
    await stack.settle()
    [helped] = fake.ephemerals_for("U1")
    assert helped.thread_ts == started.thread_ts
    assert "@draftloop vary" in helped.text and "/vary" not in helped.text

    # a command word in a thread that holds no campaign is chatter
    parent = next(ts)
    await send.message("let's pick a banner", user="U2", channel=CHANNEL, ts=parent)
    await send.message("select 2", user="U2", channel=CHANNEL, ts=next(ts), thread_ts=parent)
    assert await _new_jobs(stack, known) == []
    assert len(fake.ephemerals_for("U2")) == 0


async def test_dl_in_a_channel_answers_there_and_acts_on_the_campaign_it_names(stack: SlackStack) -> None:
    fox = await start_campaign(stack, n=2)
    fake, send = stack.fake, stack.sender
    assert (await send.slash("/draft", "a blue whale --n 2", user="U2", channel=CHANNEL)).status == 200
    await stack.settle()
    campaigns = await stack.service.campaigns_in_channel("slack", CHANNEL)
    assert len(campaigns) == 2
    whale = next(c for c in campaigns if c.id != fox.campaign_id)
    known = {j.job_id for j in await stack.jobs()}

    # with two live campaigns, /dl asks which one, in the channel where it was typed
    assert (await send.slash("/dl", "vary 1", user="U3", channel=CHANNEL)).status == 200
    assert await _new_jobs(stack, known) == []
    [which] = fake.ephemerals_for("U3")
    assert which.channel == CHANNEL and which.thread_ts is None
    assert "--campaign" in which.text and fox.campaign_id[:6] in which.text

    # --campaign names the older one: the newest is not assumed
    line = f"vary 1 strong --campaign {fox.campaign_id[:6]}"
    assert (await send.slash("/dl", line, user="U3", channel=CHANNEL)).status == 200
    [varied] = await _new_jobs(stack, known)
    [job] = [j for j in await stack.jobs() if j.job_id == varied]
    assert job.campaign_id == fox.campaign_id != whale.id
    assert all(e.thread_ts is None for e in fake.ephemerals_for("U3"))

    # a bad /dl is answered in the channel too, never in a campaign's thread
    assert (await send.slash("/dl", "vary 1 --frob", user="U1", channel=CHANNEL)).status == 200
    await stack.settle()
    [bad] = fake.ephemerals_for("U1")
    assert bad.thread_ts is None and "--frob" in bad.text


async def test_reactions_on_the_pictures_are_votes(stack: SlackStack) -> None:
    started = await start_campaign(stack, n=3)
    fake, send = stack.fake, stack.sender
    [pictures] = fake.files_message(CHANNEL, started.thread_ts)
    assert len(pictures.files) == 3 and pictures.ts != started.grid.ts

    async def counts() -> dict[int, int]:
        await stack.settle()
        return await stack.service.vote_counts(started.campaign_id, started.round_no)

    # people react on the images message itself
    await send.reaction("two", user="U1", channel=CHANNEL, ts=pictures.ts)
    await send.reaction("three", user="U2", channel=CHANNEL, ts=pictures.ts)
    assert await counts() == {1: 0, 2: 1, 3: 1}
    # and on the listing, as before; one vote per person and candidate either way
    await send.reaction("two", user="U3", channel=CHANNEL, ts=started.grid.ts)
    await send.reaction("two", user="U1", channel=CHANNEL, ts=started.grid.ts)
    assert await counts() == {1: 0, 2: 2, 3: 1}
    await send.reaction("three", user="U2", channel=CHANNEL, ts=pictures.ts, added=False)
    assert await counts() == {1: 0, 2: 2, 3: 0}


async def test_a_thread_ts_that_is_a_reply_is_refused_by_slack(stack: SlackStack) -> None:
    """The fake holds the bot to Slack's rule: replies go under the thread's parent, never a reply."""
    started = await start_campaign(stack, n=2)
    thread = ThreadRef(platform="slack", channel_id=CHANNEL, thread_id=started.grid.ts)
    with pytest.raises(Exception, match="thread_not_found"):
        await stack.presenter.post_status(thread, "under a reply")
    assert ("chat.postMessage", "thread_not_found") in stack.fake.refused
