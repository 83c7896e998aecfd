"""The Discord adapter end to end: real discord.py client ↔ fake Discord ↔ real service on real Redis."""

from __future__ import annotations

import hashlib
import re
from typing import Any

from bot.core.buttons import parse_action_id
from bot.core.messages import NUMBER_EMOJI
from bot.core.model import ThreadRef
from bot.core.render import caption, voting_grids
from bot.state.post_log import MemoryPostLog
from bot.state.status import StatusStore
from engine.api import JobKind
from tests.discord.discord_stack import Stack
from tests.discord.fake_discord import (
    APPROVER_ROLE_ID,
    BOT_ID,
    CHANNEL_ID,
    GUILD_ID,
    FakeMessage,
    Interaction,
)
from tests.support.engine_standin import png

EPHEMERAL = 64


async def replied(stack: Stack, inter: Interaction) -> str:
    """The ephemeral follow-ups the bot sent for an interaction, joined."""
    await stack.fake.wait_for(f"a reply to interaction {inter.id}", lambda: inter.followups)
    assert inter.callbacks and inter.callbacks[0]["type"] == 5  # deferred first
    assert inter.callbacks[0]["data"]["flags"] & EPHEMERAL
    assert all(f["flags"] & EPHEMERAL for f in inter.followups)
    return "\n".join(f["content"] for f in inter.followups)


async def draft(stack: Stack, user: dict[str, Any], n: int = 4) -> tuple[str, str, FakeMessage]:
    """/draft in the channel, the engine's results applied: (campaign id, thread id, grid message)."""
    fake = stack.fake
    inter = await fake.slash(user, "draft", {"prompt": "a red fox in snow", "n": n, "quorum": 10})
    reply = await replied(stack, inter)
    thread = fake.threads()[-1]
    assert f"<#{thread['id']}>" in reply
    campaign = await stack.service.campaign_for_thread(
        ThreadRef(platform="discord", channel_id=CHANNEL_ID, thread_id=thread["id"])
    )
    assert campaign is not None
    await stack.deliver_all()
    grids = [m for m in fake.in_channel(thread["id"]) if m.data["attachments"]]
    assert len(grids) == 1
    return campaign.id, thread["id"], grids[0]


async def test_draft_opens_a_thread_and_posts_a_grid_with_reactions_and_buttons(stack: Stack) -> None:
    fake = stack.fake
    alice = fake.add_user("alice")
    scope = str(stack.adapter.guild_ids[0]) if stack.adapter.guild_ids else "global"
    registered = {c["name"]: c for c in fake.commands.get(scope, [])}
    assert {
        "draft",
        "vary",
        "reroll",
        "select",
        "refine",
        "inpaint",
        "outpaint",
        "upscale",
        "faces",
        "deliver",
        "status",
        "cost",
        "cancel",
        "help",
        "settings",
        "schedule",
    } <= set(registered)
    assert {o["name"] for o in registered["schedule"]["options"] if o["type"] == 1} == {
        "add",
        "list",
        "remove",
    }
    draft_options = {o["name"]: o["type"] for o in registered["draft"]["options"]}
    assert draft_options["prompt"] == 3 and draft_options["sref"] == 11 and draft_options["cref"] == 11
    assert {o["name"]: o["type"] for o in registered["inpaint"]["options"]}["mask"] == 11

    campaign_id, thread_id, grid = await draft(stack, alice, n=4)

    thread = fake.channels[thread_id]
    assert thread["name"] == "a red fox in snow" and thread["parent_id"] == CHANNEL_ID
    attachments = grid.data["attachments"]
    assert len(attachments) == 4
    campaign = await stack.service.campaign(campaign_id)
    assert campaign is not None
    for number, att in zip(range(1, 5), attachments, strict=True):
        served = fake.cdn[att["url"].split("/cdn/", 1)[1]]
        assert served == stack.artifacts.get(campaign.candidates[number].artifact)
        [line] = [ln for ln in grid.content.splitlines() if ln.startswith(f"#{number} ")]
        assert line == caption(campaign.candidates[number])  # the caption as render wrote it
        assert re.findall(rf"#{number}\b", grid.content) == [f"#{number}"]  # each number once
        assert att["description"] == line
    assert fake.bot_reactions(grid.id) == list(NUMBER_EMOJI[:4])
    custom_ids = grid.custom_ids()
    assert custom_ids
    for custom_id in custom_ids:
        parsed = parse_action_id(custom_id)
        assert parsed is not None and parsed[1] == campaign_id and 1 <= parsed[2] <= 4
    # one status message for the campaign, edited in place
    status_line = await StatusStore(stack.redis).get("discord", campaign_id)
    assert status_line is not None
    status = fake.messages[status_line.message_id]
    assert status.data["channel_id"] == thread_id
    assert status.edits >= 1
    posts = [c for c in fake.calls if c.method == "POST" and c.path == f"/channels/{thread_id}/messages"]
    assert len(posts) == len(fake.in_channel(thread_id))


async def test_a_long_post_is_split_into_messages_and_keeps_its_images_and_buttons(stack: Stack) -> None:
    fake = stack.fake
    alice = fake.add_user("alice")
    campaign_id, thread_id, grid = await draft(stack, alice, n=3)
    campaign = await stack.service.campaign(campaign_id)
    assert campaign is not None
    thread = ThreadRef(platform="discord", channel_id=CHANNEL_ID, thread_id=thread_id)
    intro = "\n".join(
        f"line {i:03d}: " + "the quick brown fox jumps over the lazy dog " * 2 for i in range(60)
    )
    assert len(intro) > 2 * 2000
    message = voting_grids(campaign, campaign.rounds[0])[0].model_copy(update={"text": intro})
    before = {m.id for m in fake.in_channel(thread_id)}

    posted = await stack.presenter.post(thread, message, MemoryPostLog())

    sent = [m for m in fake.in_channel(thread_id) if m.id not in before]
    assert len(sent) >= 3
    assert all(0 < len(m.content) <= 2000 for m in sent)
    captions = "\n".join(image.caption for image in message.images)
    assert "".join(m.content for m in sent) == f"{intro}\n{captions}"  # in order, nothing lost
    assert all(image.buttons for image in message.images)
    *text_only, last = sent
    assert all(not m.data["attachments"] and not m.custom_ids() for m in text_only)
    assert posted == last.id  # the message people vote on shows the images, reactions and buttons
    assert len(last.data["attachments"]) == 3
    per_image = [b.action_id for image in message.images for b in image.buttons]
    assert last.custom_ids() == grid.custom_ids() == per_image
    assert fake.bot_reactions(last.id) == list(NUMBER_EMOJI[:3])

    # the status line stays one message on one line, trimmed at a word
    await stack.service.ctx.effects.show_status(campaign, "Voting · round 1 · " + intro)
    line = await StatusStore(stack.redis).get("discord", campaign_id)
    assert line is not None
    status = fake.messages[line.message_id]
    assert len(status.content) <= 2000 and "\n" not in status.content
    body = status.content.removesuffix("…")
    whole = " ".join(f"Voting · round 1 · {intro}".split())
    assert status.content.endswith("…") and whole.startswith(body) and whole[len(body)] == " "


async def test_reactions_vote_once_and_never_for_the_bot(stack: Stack) -> None:
    fake = stack.fake
    alice, bob, carol = fake.add_user("alice"), fake.add_user("bob"), fake.add_user("carol")
    campaign_id, _, grid = await draft(stack, alice, n=4)
    adapter = stack.adapter
    await fake.wait_for("the bot's own reaction events", lambda: adapter.handled["reaction"] >= 4)
    base = adapter.handled["reaction"]

    one, two, three = NUMBER_EMOJI[:3]
    await fake.react(alice["id"], grid.id, one)
    await fake.react(bob["id"], grid.id, one)
    await fake.react(carol["id"], grid.id, two)
    await fake.react(carol["id"], grid.id, two, added=False)  # a removed reaction unvotes
    added = await fake.react(alice["id"], grid.id, three)
    await fake.redeliver(added)  # the same gateway event again: already handled
    await fake.wait_for("alice's vote and its copy", lambda: adapter.handled["reaction"] >= base + 6)
    assert (await stack.service.vote_counts(campaign_id, 1)).get(3) == 1  # counted once
    # (a copy arriving after the removal would be a vote given again: reactions are states)
    await fake.react(alice["id"], grid.id, three, added=False)
    await fake.wait_for("seven reaction events", lambda: adapter.handled["reaction"] >= base + 7)

    counts = await stack.service.vote_counts(campaign_id, 1)
    assert {n: c for n, c in counts.items() if c} == {1: 2}
    assert BOT_ID in fake.messages[grid.id].reactions[one]  # the bot's 1️⃣ is there and did not count


async def test_a_bad_draft_option_is_answered_naming_the_flag(stack: Stack) -> None:
    fake = stack.fake
    alice = fake.add_user("alice")
    inter = await fake.slash(alice, "draft", {"prompt": "a fox", "ar": "banana"})
    reply = await replied(stack, inter)
    assert "--ar" in reply
    assert fake.threads() == [] and await stack.jobs() == []


async def test_attachments_only_from_discord(stack: Stack) -> None:
    fake = stack.fake
    alice = fake.add_user("alice")
    image = png(16, 16, (3, 21, 39))
    elsewhere = fake.attachment("fox.png", image, url=f"http://localhost:{fake.port}/evil/fox.png")
    inter = await fake.slash(alice, "draft", {"prompt": "a fox"}, attachments={"sref": elsewhere})
    reply = await replied(stack, inter)
    assert "--sref" in reply and "not a file uploaded to Discord" in reply and "localhost" in reply
    assert fake.other_hits == [] and fake.threads() == [] and await stack.jobs() == []

    uploaded = fake.attachment("fox board.png", image)
    inter = await fake.slash(alice, "draft", {"prompt": "a fox"}, attachments={"sref": uploaded})
    await replied(stack, inter)
    key = hashlib.sha256(image).hexdigest()
    jobs = await stack.jobs()
    assert len(jobs) == 1 and jobs[0].style_refs == [key] and stack.artifacts.exists(key)
    assert len(fake.threads()) == 1


async def test_a_button_works_after_a_restart(stack: Stack) -> None:
    fake = stack.fake
    alice = fake.add_user("alice")
    campaign_id, _, grid = await draft(stack, alice, n=2)
    vary = next(c for c in grid.custom_ids() if c.startswith("dl:vary:") and c.split(":")[3] == "1")
    await stack.adapter.stop()

    fresh = await stack.connect()
    assert fresh is not stack.adapters[0] and len(fake.identifies) == 2
    inter = await fake.press(alice, grid.id, vary)
    await replied(stack, inter)
    assert fresh.handled["action"] == 1
    kinds = [j.kind for j in await stack.jobs() if j.campaign_id == campaign_id]
    assert kinds == [JobKind.DRAFT, JobKind.VARIATION]


async def test_the_approver_role_lets_a_non_owner_select(stack: Stack) -> None:
    fake = stack.fake
    owner, plain = fake.add_user("owner"), fake.add_user("plain")
    approver = fake.add_user("approver", roles=(APPROVER_ROLE_ID,))
    campaign_id, thread_id, _ = await draft(stack, owner, n=3)

    inter = await fake.slash(plain, "select", {"numbers": "2"}, channel_id=thread_id)
    assert "owner or an approver" in await replied(stack, inter)
    campaign = await stack.service.campaign(campaign_id)
    assert campaign is not None and campaign.rounds[0].winners == []

    inter = await fake.slash(approver, "select", {"numbers": "2"}, channel_id=thread_id)
    await replied(stack, inter)
    campaign = await stack.service.campaign(campaign_id)
    assert campaign is not None and campaign.rounds[0].winners == [2]
    assert [j.kind for j in await stack.jobs()].count(JobKind.REFINE) == 1


async def closed_round(stack: Stack, owner: dict[str, Any]) -> tuple[str, str, FakeMessage]:
    """A two-image campaign whose round 1 the owner closed by picking #1."""
    campaign_id, thread_id, grid = await draft(stack, owner, n=2)
    inter = await stack.fake.slash(owner, "select", {"numbers": "1"}, channel_id=thread_id)
    await replied(stack, inter)
    campaign = await stack.service.campaign(campaign_id)
    assert campaign is not None and campaign.rounds[0].winners == [1] and not campaign.rounds[0].open
    return campaign_id, thread_id, grid


async def test_a_refused_vote_is_taken_back_and_explained_in_a_dm(stack: Stack) -> None:
    fake = stack.fake
    alice, bob = fake.add_user("alice"), fake.add_user("bob")
    campaign_id, thread_id, grid = await closed_round(stack, alice)
    before = await stack.service.vote_counts(campaign_id, 1)
    two = NUMBER_EMOJI[1]
    adapter = stack.adapter
    await fake.wait_for("the bot's own reaction events", lambda: adapter.handled["reaction"] >= 2)
    handled = adapter.handled["reaction"]

    await fake.react(bob["id"], grid.id, two)
    [dm] = await fake.wait_for("a DM to bob", lambda: fake.dms_to(bob["id"]))
    assert "Round 1 is closed" in dm.content and "#1" in dm.content
    assert f"https://discord.com/channels/{GUILD_ID}/{thread_id}/{grid.id}" in dm.content
    removal = f"/channels/{thread_id}/messages/{grid.id}/reactions/{two}/{bob['id']}"
    assert any(c.method == "DELETE" and c.path == removal for c in fake.calls)
    assert bob["id"] not in fake.reactors(grid.id, two)
    assert BOT_ID in fake.reactors(grid.id, two)  # only bob's reaction was taken back
    # the removal comes back as a reaction event; once it is handled too, nothing was counted
    await fake.wait_for(
        "bob's reaction and its removal handled", lambda: adapter.handled["reaction"] >= handled + 2
    )
    assert await stack.service.vote_counts(campaign_id, 1) == before
    assert not any(bob["id"] in m.content for m in fake.in_channel(thread_id))


async def test_a_refused_vote_with_dms_closed_is_explained_in_the_thread_then_deleted(stack: Stack) -> None:
    fake = stack.fake
    alice, bob = fake.add_user("alice"), fake.add_user("bob")
    fake.dms_closed.add(bob["id"])
    campaign_id, thread_id, grid = await closed_round(stack, alice)
    before = await stack.service.vote_counts(campaign_id, 1)
    two = NUMBER_EMOJI[1]

    await fake.react(bob["id"], grid.id, two)
    [notice] = await fake.wait_for(
        "a reply mentioning bob",
        lambda: [m for m in fake.in_channel(thread_id) if f"<@{bob['id']}>" in m.content],
    )
    assert "Round 1 is closed" in notice.content
    assert str(notice.data["message_reference"]["message_id"]) == grid.id
    sent = next(
        c
        for c in fake.calls
        if c.method == "POST"
        and c.path == f"/channels/{thread_id}/messages"
        and f"<@{bob['id']}>" in (c.body or {}).get("content", "")
    )
    assert [str(u) for u in sent.body["allowed_mentions"]["users"]] == [bob["id"]]
    assert fake.dms_to(bob["id"]) == []
    assert bob["id"] not in fake.reactors(grid.id, two)
    assert await stack.service.vote_counts(campaign_id, 1) == before

    await stack.adapter.stop()  # a reply still waiting for its deletion is deleted on the way out
    assert notice in fake.deleted and notice.id not in fake.messages


async def test_a_refused_vote_before_voting_opens_is_taken_back(stack: Stack) -> None:
    fake = stack.fake
    alice, bob = fake.add_user("alice"), fake.add_user("bob")
    campaign_id, thread_id, grid = await draft(stack, alice, n=2)
    inter = await fake.slash(alice, "draft", {"prompt": "a blue fox"}, channel_id=thread_id)  # round 2
    await replied(stack, inter)
    campaign = await stack.service.campaign(campaign_id)
    assert campaign is not None and len(campaign.rounds) == 2

    await fake.react(bob["id"], grid.id, NUMBER_EMOJI[0])
    [dm] = await fake.wait_for("a DM to bob", lambda: fake.dms_to(bob["id"]))
    assert "Round 1" in dm.content
    assert bob["id"] not in fake.reactors(grid.id, NUMBER_EMOJI[0])
    assert await stack.service.vote_counts(campaign_id, 1) == {1: 0, 2: 0}


async def test_schedules_are_added_listed_and_removed_through_the_schedule_group(stack: Stack) -> None:
    fake = stack.fake
    alice = fake.add_user("alice")
    added = await replied(
        stack,
        await fake.slash(
            alice, "schedule", {"cron": "0 9 * * 1", "prompt": "weekly deal banner --n 4"}, subcommand="add"
        ),
    )
    listed = await replied(stack, await fake.slash(alice, "schedule", {}, subcommand="list"))
    assert "weekly deal banner" in listed and "0 9 * * 1" in listed
    ids = re.findall(r"\b[0-9a-f]{6}\b", added)
    assert ids and ids[0] in listed, added
    schedule_id = ids[0]
    bad = await replied(
        stack, await fake.slash(alice, "schedule", {"cron": "every monday", "prompt": "x"}, subcommand="add")
    )
    assert "cron" in bad.lower()
    removed = await replied(
        stack, await fake.slash(alice, "schedule", {"id": schedule_id}, subcommand="remove")
    )
    assert schedule_id in removed
    after = await replied(stack, await fake.slash(alice, "schedule", {}, subcommand="list"))
    assert "weekly deal banner" not in after


async def test_a_draft_where_the_bot_may_not_open_threads_says_so(stack: Stack) -> None:
    fake = stack.fake
    alice = fake.add_user("alice")
    fake.no_thread_permission.add(CHANNEL_ID)
    inter = await fake.slash(alice, "draft", {"prompt": "a red fox in snow"})
    reply = await replied(stack, inter)
    assert "thread" in reply and "permission" in reply and f"<#{CHANNEL_ID}>" in reply
    assert fake.threads() == [] and await stack.jobs() == []

    # once the permission is granted, the same command works
    fake.no_thread_permission.clear()
    inter = await fake.slash(alice, "draft", {"prompt": "a red fox in snow"})
    assert "Started the campaign" in await replied(stack, inter)
    assert len(fake.threads()) == 1


async def test_a_vote_while_the_bot_is_reconnecting_is_taken_back_and_explained(
    stack: Stack, monkeypatch: Any
) -> None:
    from bot.availability import RECONNECTING_TEXT, BotReconnecting

    fake = stack.fake
    alice, bob = fake.add_user("alice"), fake.add_user("bob")
    campaign_id, _thread_id, grid = await draft(stack, alice, n=2)
    one = NUMBER_EMOJI[0]

    async def reconnecting(*args: object, **kwargs: object) -> str | None:
        raise BotReconnecting()

    monkeypatch.setattr(stack.service, "handle_reaction", reconnecting)
    await fake.react(bob["id"], grid.id, one)
    [dm] = await fake.wait_for("a DM to bob", lambda: fake.dms_to(bob["id"]))
    assert RECONNECTING_TEXT in dm.content and "wasn't counted" in dm.content
    await fake.wait_for("bob's reaction taken back", lambda: bob["id"] not in fake.reactors(grid.id, one))
    monkeypatch.undo()
    assert await stack.service.vote_counts(campaign_id, 1) == {1: 0, 2: 0}


async def test_deliver_posts_the_finals_zip_in_the_thread(stack: Stack) -> None:
    fake = stack.fake
    alice = fake.add_user("alice")
    campaign_id, thread_id, _grid = await draft(stack, alice, n=2)
    inter = await fake.slash(alice, "deliver", {}, channel_id=thread_id)
    assert "Nothing to deliver yet" in await replied(stack, inter)

    inter = await fake.slash(alice, "select", {"numbers": "1"}, channel_id=thread_id)
    await replied(stack, inter)
    await stack.deliver_all()  # the refine
    campaign = await stack.service.campaign(campaign_id)
    assert campaign is not None and any(c.stage == "refine" for c in campaign.candidates.values())

    inter = await fake.slash(alice, "deliver", {}, channel_id=thread_id)
    await replied(stack, inter)
    zips = await fake.wait_for(
        "the delivery zip in the thread",
        lambda: [
            a
            for m in fake.in_channel(thread_id)
            for a in m.data["attachments"]
            if str(a.get("filename", "")).endswith(".zip")
        ],
    )
    assert len(zips) == 1
