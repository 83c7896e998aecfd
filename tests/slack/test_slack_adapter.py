"""The Slack adapter end to end: real slack-bolt app ↔ FakeSlack ↔ real CampaignService on real Redis."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import redis.asyncio as aioredis

from bot.core.buttons import parse_action_id
from bot.core.model import Campaign, ThreadRef
from bot.core.render import caption, voting_grid
from bot.core.text import chunks
from bot.state import keys
from bot.state.post_log import MemoryPostLog
from bot.state.status import StatusStore
from engine.api import JobKind, Progress
from tests.slack.fake_slack import BOT_USER_ID, FakeSlack, Posted
from tests.slack.slack_stack import SlackStack, make_stack
from tests.support.engine_standin import png

CHANNEL = "C0DESIGN"


@pytest.fixture
def stack_options() -> dict[str, Any]:
    return {"approvers": ("UAPPROVER",)}


@dataclass
class Started:
    campaign_id: str
    thread_ts: str
    grid: Posted
    round_no: int

    @property
    def thread(self) -> ThreadRef:
        return ThreadRef(platform="slack", channel_id=CHANNEL, thread_id=self.thread_ts)


def _parents(fake: FakeSlack) -> list[Posted]:
    return [m for m in fake.messages.values() if m.channel == CHANNEL and m.thread_ts is None]


def _grids(fake: FakeSlack, thread_ts: str) -> list[Posted]:
    return [m for m in fake.in_thread(CHANNEL, thread_ts) if any(b["type"] == "actions" for b in m.blocks)]


def _action_ids(msg: Posted) -> list[str]:
    return [el["action_id"] for b in msg.blocks if b["type"] == "actions" for el in b["elements"]]


async def start_campaign(stack: SlackStack, n: int = 4) -> Started:
    sent = await stack.sender.slash("/draft", f"a red fox in snow --n {n}", user="U1", channel=CHANNEL)
    assert sent.status == 200
    await stack.settle()
    parents = _parents(stack.fake)
    assert len(parents) == 1, [m.text for m in parents]
    thread_ts = parents[0].ts
    campaign = await stack.service.campaign_for_thread(
        ThreadRef(platform="slack", channel_id=CHANNEL, thread_id=thread_ts)
    )
    assert campaign is not None
    jobs = await stack.jobs()
    assert [j.campaign_id for j in jobs] == [campaign.id]
    await stack.deliver(jobs[0])
    grids = _grids(stack.fake, thread_ts)
    assert len(grids) == 1
    campaign = await stack.service.campaign(campaign.id)
    assert campaign is not None
    return Started(campaign.id, thread_ts, grids[0], campaign.rounds[-1].number)


async def test_draft_opens_a_thread_and_posts_a_grid_with_files_reactions_buttons(stack: SlackStack) -> None:
    fake = stack.fake
    started = await start_campaign(stack, n=4)

    parent = fake.messages[(CHANNEL, started.thread_ts)]
    assert parent.text.startswith("🎨 a red fox in snow")
    assert "<@U1>" in parent.text

    campaign = await stack.service.campaign(started.campaign_id)
    assert campaign is not None
    rnd = campaign.rounds[-1]
    assert len(rnd.candidates) == 4

    # the four PNGs went through the upload v2 flow into the campaign thread, byte for byte
    shared = [f for f in fake.files.values() if (CHANNEL, started.thread_ts) in f.shared_to]
    assert len(shared) == 4
    expected = {stack.service.read_artifact(campaign.candidates[n].artifact) for n in rnd.candidates}
    assert {f.data for f in shared} == expected
    # each file is titled with its caption, as render wrote it: every number once
    titles = sorted(f.title for f in shared)
    assert titles == sorted(caption(campaign.candidates[n]) for n in rnd.candidates)
    for n in rnd.candidates:
        [title] = [t for t in titles if t.startswith(f"#{n} ")]
        assert re.findall(r"#\d+", title) == [f"#{n}"]
    assert len(fake.calls_of("files.getUploadURLExternal")) == 4
    methods = [c.method for c in fake.calls]
    grid_call = next(
        i
        for i, c in enumerate(fake.calls)
        if c.method == "chat.postMessage"
        and c.args.get("thread_ts") == started.thread_ts
        and c.args.get("blocks")
    )
    assert methods.index("files.completeUploadExternal") < grid_call

    # the listing names every candidate; the bot seeded one number reaction per candidate
    listing = " ".join(b["text"]["text"] for b in started.grid.blocks if b["type"] == "section")
    for n in rnd.candidates:
        assert f"*{caption(campaign.candidates[n])}*" in listing
        assert re.findall(rf"#{n}\b", listing) == [f"#{n}"]  # each number once
    seeded = [(name, user) for ch, ts, name, user in fake.reactions if (ch, ts) == (CHANNEL, started.grid.ts)]
    assert seeded == [(name, BOT_USER_ID) for name in ("one", "two", "three", "four")]

    # every button carries a dl: action id (as action_id and value) for this campaign
    buttons = [el for b in started.grid.blocks if b["type"] == "actions" for el in b["elements"]]
    assert buttons
    for button in buttons:
        parsed = parse_action_id(button["action_id"])
        assert parsed is not None and parsed[1] == started.campaign_id
        assert button["value"] == button["action_id"]
    assert f"dl:vary:{started.campaign_id}:1:subtle" in _action_ids(started.grid)
    assert all(c.authorized for c in fake.calls)


async def test_reactions_vote_and_retries_count_once(stack: SlackStack) -> None:
    started = await start_campaign(stack, n=4)
    grid_ts = started.grid.ts
    send = stack.sender

    async def counts() -> dict[int, int]:
        await stack.settle()
        return await stack.service.vote_counts(started.campaign_id, started.round_no)

    for user, name in (("U1", "one"), ("U2", "one"), ("U3", "two")):
        assert (await send.reaction(name, user=user, channel=CHANNEL, ts=grid_ts)).status == 200
    assert (await send.reaction("three", user=BOT_USER_ID, channel=CHANNEL, ts=grid_ts)).status == 200
    assert (await send.reaction("heart", user="U3", channel=CHANNEL, ts=grid_ts)).status == 200
    assert await counts() == {1: 2, 2: 1, 3: 0, 4: 0}

    await send.reaction("two", user="U3", channel=CHANNEL, ts=grid_ts, added=False)
    assert await counts() == {1: 2, 2: 0, 3: 0, 4: 0}

    first = await send.reaction("four", user="U2", channel=CHANNEL, ts=grid_ts)
    assert await counts() == {1: 2, 2: 0, 3: 0, 4: 1}
    # Slack redelivers that reaction_added (its first delivery looked unanswered): it counts once
    retry = await send.reaction(
        "four", user="U2", channel=CHANNEL, ts=grid_ts, event_id=first.event_id, retry_num=1
    )
    assert retry.status == 200
    assert await counts() == {1: 2, 2: 0, 3: 0, 4: 1}
    await send.reaction("four", user="U2", channel=CHANNEL, ts=grid_ts, added=False)
    assert await counts() == {1: 2, 2: 0, 3: 0, 4: 0}
    # a late replay of the first add, after the vote was taken back, doesn't bring it back
    late = await send.reaction(
        "four", user="U2", channel=CHANNEL, ts=grid_ts, event_id=first.event_id, retry_num=2
    )
    assert late.status == 200
    assert await counts() == {1: 2, 2: 0, 3: 0, 4: 0}
    # the vote given again after being taken back counts again
    await send.reaction("four", user="U2", channel=CHANNEL, ts=grid_ts)
    assert await counts() == {1: 2, 2: 0, 3: 0, 4: 1}

    # a reaction on a message that is not a voting grid is not a vote
    await send.reaction("one", user="U3", channel=CHANNEL, ts=started.thread_ts)
    assert await counts() == {1: 2, 2: 0, 3: 0, 4: 1}


async def test_a_bad_command_gets_an_ephemeral_error_naming_the_flag(stack: SlackStack) -> None:
    sent = await stack.sender.slash("/draft", "a fox --bogus 3", user="U1", channel=CHANNEL)
    assert sent.status == 200
    sent = await stack.sender.slash("/dl", "vary 3 --frob", user="U2", channel=CHANNEL)
    assert sent.status == 200
    await stack.settle()
    [to_u1] = stack.fake.ephemerals_for("U1")
    assert "--bogus" in to_u1.text and to_u1.channel == CHANNEL
    [to_u2] = stack.fake.ephemerals_for("U2")
    assert "--frob" in to_u2.text
    assert _parents(stack.fake) == []
    assert await stack.jobs() == []


async def test_a_request_with_a_bad_signature_is_rejected_and_changes_nothing(stack: SlackStack) -> None:
    before = sorted(await stack.redis.keys("*"))
    sent = await stack.sender.slash("/draft", "a fox", user="U1", channel=CHANNEL, bad_signature=True)
    assert sent.status == 401
    event = {
        "type": "reaction_added",
        "user": "U1",
        "reaction": "one",
        "item": {"type": "message", "channel": CHANNEL, "ts": "1700000000.000001"},
    }
    assert (await stack.sender.event(event, bad_signature=True)).status == 401
    await stack.settle()
    assert stack.fake.calls == []
    assert sorted(await stack.redis.keys("*")) == before
    # the same command, signed correctly, is served
    assert (await stack.sender.slash("/draft", "a fox", user="U1", channel=CHANNEL)).status == 200
    await stack.settle()
    assert len(_parents(stack.fake)) == 1


async def test_a_button_works_after_the_adapter_is_recreated(
    stack: SlackStack, redis: aioredis.Redis, tmp_data_dir: Path, fake: FakeSlack
) -> None:
    started = await start_campaign(stack, n=4)
    jobs_before = await stack.jobs()
    await stack.close()

    fresh = await make_stack(redis, tmp_data_dir, fake, artifacts=stack.artifacts)
    try:
        action = f"dl:vary:{started.campaign_id}:2:subtle"
        assert action in _action_ids(started.grid)
        sent = await fresh.sender.block_action(
            action, user="U2", channel=CHANNEL, message_ts=started.grid.ts, thread_ts=started.thread_ts
        )
        assert sent.status == 200
        await fresh.settle()
        new = [j for j in await fresh.jobs() if j.job_id not in {b.job_id for b in jobs_before}]
        assert [(j.kind, j.campaign_id) for j in new] == [(JobKind.VARIATION, started.campaign_id)]
        # a button of a campaign that does not exist answers the presser only
        await fresh.sender.block_action(
            "dl:vary:0000000000000000:1",
            user="U3",
            channel=CHANNEL,
            message_ts=started.grid.ts,
            thread_ts=started.thread_ts,
        )
        await fresh.settle()
        [gone] = fake.ephemerals_for("U3")
        assert "no longer exists" in gone.text and gone.thread_ts == started.thread_ts
    finally:
        await fresh.close()


async def test_thread_messages_are_commands_and_files_come_only_from_slack(stack: SlackStack) -> None:
    started = await start_campaign(stack, n=4)
    fake, send = stack.fake, stack.sender
    known = {j.job_id for j in await stack.jobs()}

    async def new_jobs() -> list[str]:
        await stack.settle()
        return [j.job_id for j in await stack.jobs() if j.job_id not in known]

    # chatter in the thread is not a command
    await send.message(
        "nice, I like 2", user="U2", channel=CHANNEL, ts="1700002000.000001", thread_ts=started.thread_ts
    )
    assert await new_jobs() == []
    assert fake.ephemerals_for("U2") == []

    # a line starting with "/" in the campaign thread is a command; Slack's retry of it is handled once
    vary = {
        "type": "message",
        "user": "U3",
        "text": " /vary 2 strong",
        "channel": CHANNEL,
        "ts": "1700002000.000004",
        "thread_ts": started.thread_ts,
    }
    sent = await send.event(vary)
    assert (await send.event(vary, event_id=sent.event_id, retry_num=1)).status == 200
    varied = await new_jobs()
    assert len(varied) == 1
    known.update(varied)
    [job] = [j for j in await stack.jobs() if j.job_id in varied]
    assert job.kind is JobKind.VARIATION
    await stack.deliver(job)  # the variations' grid opens the next vote

    # a file from a host that is not Slack's is refused before anything is fetched
    foreign = fake.foreign_file("ref.png")
    await send.message(
        f"<@{BOT_USER_ID}> draft a fox in a hat --image ref.png",
        user="U2",
        channel=CHANNEL,
        ts="1700002000.000002",
        thread_ts=started.thread_ts,
        files=[foreign],
    )
    assert await new_jobs() == []
    [refusal] = fake.ephemerals_for("U2")
    assert "only fetched from Slack's own file hosts" in refusal.text and "'ref.png'" in refusal.text
    assert fake.elsewhere_fetches == []

    # the same command with a file on Slack's host: fetched with the bot token, used as the init image
    image = png(48, 48, (10, 120, 200))
    hosted = fake.host_file("ref.png", image)
    await send.message(
        f"<@{BOT_USER_ID}> draft a fox in a hat --image ref.png",
        user="U2",
        channel=CHANNEL,
        ts="1700002000.000003",
        thread_ts=started.thread_ts,
        files=[hosted],
    )
    drafted = await new_jobs()
    assert len(drafted) == 1, [e.text for e in fake.ephemerals]
    [draft_id] = drafted
    known.add(draft_id)
    [draft] = [j for j in await stack.jobs() if j.job_id == draft_id]
    assert draft.init_image == hashlib.sha256(image).hexdigest()
    assert [authorized for _, authorized in fake.file_fetches] == [True]


async def test_the_status_line_is_one_message_edited_in_place_across_restarts(
    stack: SlackStack, redis: aioredis.Redis, tmp_data_dir: Path, fake: FakeSlack
) -> None:
    started = await start_campaign(stack, n=2)
    # /dl carries no thread: it acts on the channel's newest unfinished campaign
    assert (await stack.sender.slash("/dl", "vary 1 strong", user="U2", channel=CHANNEL)).status == 200
    await stack.settle()
    [job] = [j for j in await stack.jobs() if j.kind is JobKind.VARIATION]
    assert job.campaign_id == started.campaign_id

    await stack.service.relay_progress(
        Progress(job_id=job.job_id, campaign_id=job.campaign_id, step=1, total=4)
    )
    statuses = [m for m in fake.in_thread(CHANNEL, started.thread_ts) if "step 1/4" in m.text]
    assert len(statuses) == 1
    status = statuses[0]
    await stack.close()

    fresh = await make_stack(redis, tmp_data_dir, fake, artifacts=stack.artifacts)
    try:
        await fresh.service.relay_progress(
            Progress(job_id=job.job_id, campaign_id=job.campaign_id, step=3, total=4)
        )
        assert "step 3/4" in status.text
        assert status.edits >= 1
        assert [m for m in fake.in_thread(CHANNEL, started.thread_ts) if "step 3/4" in m.text] == [status]
    finally:
        await fresh.close()


async def test_a_refused_vote_is_explained_to_the_voter_in_the_thread(stack: SlackStack) -> None:
    started = await start_campaign(stack, n=2)
    fake, send = stack.fake, stack.sender
    assert (await send.slash("/dl", "select 1", user="U1", channel=CHANNEL)).status == 200
    await stack.settle()
    campaign = await stack.service.campaign(started.campaign_id)
    assert campaign is not None and campaign.rounds[0].winners == [1] and not campaign.rounds[0].open
    before = await stack.service.vote_counts(started.campaign_id, started.round_no)
    posts_before = len(fake.calls_of("chat.postMessage"))

    assert (await send.reaction("two", user="U2", channel=CHANNEL, ts=started.grid.ts)).status == 200
    await stack.settle()
    [told] = fake.ephemerals_for("U2")
    assert told.channel == CHANNEL and told.thread_ts == started.thread_ts
    assert "Round 1 is closed" in told.text and "#1" in told.text and ":two:" in told.text
    assert await stack.service.vote_counts(started.campaign_id, started.round_no) == before
    assert len(fake.calls_of("chat.postMessage")) == posts_before  # nobody else sees it

    # taking the refused reaction back is no vote either, and is not answered
    await send.reaction("two", user="U2", channel=CHANNEL, ts=started.grid.ts, added=False)
    await stack.settle()
    assert len(fake.ephemerals_for("U2")) == 1
    assert await stack.service.vote_counts(started.campaign_id, started.round_no) == before


async def test_a_draft_in_a_channel_the_bot_is_not_in_tells_the_user_to_invite_it(stack: SlackStack) -> None:
    fake = stack.fake
    fake.not_in.add(CHANNEL)
    assert (await stack.sender.slash("/draft", "a red fox in snow", user="U1", channel=CHANNEL)).status == 200
    await stack.settle()
    [answer] = fake.responses
    assert answer.get("response_type") == "ephemeral"
    assert "/invite" in answer["text"] and f"<@{BOT_USER_ID}>" in answer["text"]
    assert _parents(fake) == [] and await stack.jobs() == []

    fake.not_in.clear()  # once invited, the same command opens the thread
    assert (await stack.sender.slash("/draft", "a red fox in snow", user="U1", channel=CHANNEL)).status == 200
    await stack.settle()
    assert len(_parents(fake)) == 1 and len(await stack.jobs()) == 1


async def test_status_lines_of_many_campaigns_keep_nothing_in_the_process(stack: SlackStack) -> None:
    fake, effects = stack.fake, stack.service.ctx.effects
    campaigns = [
        Campaign(
            id=f"campaign{i}",
            thread=ThreadRef(platform="slack", channel_id=CHANNEL, thread_id=f"1700000999.{i:06d}"),
            owner="U1",
            created_at=0.0,
            updated_at=0.0,
        )
        for i in range(8)
    ]
    for campaign in campaigns:  # Slack posts into a thread only under an existing parent message
        fake.user_posted(CHANNEL, campaign.thread.thread_id, None)
    # a status key an earlier version wrote (a plain message id) is replaced by a new line
    await stack.redis.set(keys.status_message("slack", "campaign0"), f"{CHANNEL}:1699999999.000001")
    for campaign in campaigns:
        await effects.show_status(campaign, f"{campaign.id}: drafting")
    assert len(fake.calls_of("chat.postMessage")) == 8
    assert vars(stack.presenter).keys() == {"client", "read_artifact"}  # the presenter remembers nothing
    assert len(effects._status_order) == 0  # no lock outlives its status change
    # the newest campaign's equal text is not edited again; a changed one is edited once, in place
    updates = len(fake.calls_of("chat.update"))
    await effects.show_status(campaigns[7], "campaign7: drafting")
    assert len(fake.calls_of("chat.update")) == updates
    await effects.show_status(campaigns[0], "campaign0: voting")
    assert len(fake.calls_of("chat.update")) == updates + 1
    assert len(fake.calls_of("chat.postMessage")) == 8
    line = await StatusStore(stack.redis).get("slack", "campaign0")
    assert line is not None and fake.messages[(CHANNEL, line.message_id.split(":")[1])].text == (
        "campaign0: voting"
    )


async def test_a_long_text_is_split_into_several_messages_like_on_discord(stack: SlackStack) -> None:
    started = await start_campaign(stack, n=3)
    fake = stack.fake
    campaign = await stack.service.campaign(started.campaign_id)
    assert campaign is not None
    thread = started.thread
    intro = "\n".join(
        f"line {i:03d}: " + "the quick brown fox jumps over the lazy dog " * 2 for i in range(80)
    )
    assert len(intro) > 2 * 3000
    message = voting_grid(campaign, campaign.rounds[0]).model_copy(update={"text": intro})
    before = {m.ts for m in fake.in_thread(CHANNEL, started.thread_ts)}

    post_log = MemoryPostLog()
    posted = await stack.presenter.post(thread, message, post_log)

    new = [m for m in fake.in_thread(CHANNEL, started.thread_ts) if m.ts not in before]
    [pictures, *sent] = new  # the uploaded files come first, in one message of their own
    assert len(pictures.files) == 3 and not pictures.blocks
    assert len(sent) >= 3
    texts = [m.blocks[0]["text"]["text"] for m in sent]
    assert all(0 < len(t) <= 3000 for t in texts)
    assert "".join(texts) == intro  # in order, nothing cut off
    assert texts == chunks(intro, 3000)  # the one chunker every platform uses
    *text_only, last = sent
    assert all(len(m.blocks) == 1 and not _action_ids(m) for m in text_only)
    assert posted == f"{CHANNEL}:{last.ts}"  # the message people vote on lists the images and buttons
    assert _action_ids(last) == [b.action_id for img in message.images for b in img.buttons]
    seeded = [name for ch, ts, name, _ in fake.reactions if (ch, ts) == (CHANNEL, last.ts)]
    assert seeded == ["one", "two", "three"]


async def test_command_answers_reach_the_user_where_the_bot_cannot_post(stack: SlackStack) -> None:
    fake = stack.fake
    fake.not_in.add(CHANNEL)
    assert (await stack.sender.slash("/dl", "help", user="U1", channel=CHANNEL)).status == 200
    await stack.settle()
    assert fake.ephemerals_for("U1") == []
    [answer] = fake.responses
    assert answer.get("response_type") == "ephemeral" and "/draft" in answer["text"]


async def test_public_texts_name_people_by_their_slack_display_name(stack: SlackStack) -> None:
    started = await start_campaign(stack, n=2)
    await stack.sender.message(
        "/cancel", user="U1", channel=CHANNEL, ts="1700003000.000001", thread_ts=started.thread_ts
    )
    await stack.settle()
    texts = [m.text for m in stack.fake.in_thread(CHANNEL, started.thread_ts)]
    assert any("cancelled by Ana Ruiz" in t for t in texts), texts  # the name from users.info
