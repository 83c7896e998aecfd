"""Discord's documented limits, enforced by the fake: posts that resume instead of doubling, uploads that
fit the guild's limit, edits within the per-channel rate, forum and announcement channels, and commands
registered only when they changed."""

from __future__ import annotations

import io
import os
import re
import time
from typing import Any

import discord
from PIL import Image

from adapters.discord.uploads import MAX_FILES
from bot.core.messages import NUMBER_EMOJI, GridImage, Message, MessageKind
from bot.core.model import ThreadRef
from bot.file_links import FileLinks
from bot.state.post_log import MemoryPostLog
from tests.discord.discord_stack import Stack
from tests.discord.fake_discord import (
    ANNOUNCEMENTS_ID,
    CHANNEL_ID,
    FORUM_ID,
    GUILD_ID,
    MAX_CONTENT,
    FakeMessage,
)
from tests.discord.test_discord_adapter import draft, replied


def noise_png(side: int) -> bytes:
    """Random pixels: a PNG that does not compress, as big as a real final of that size."""
    image = Image.frombytes("RGB", (side, side), os.urandom(side * side * 3))
    out = io.BytesIO()
    image.save(out, format="PNG", compress_level=1)
    return out.getvalue()


def grid_of(stack: Stack, campaign_id: str, pngs: list[bytes]) -> Message:
    images = [
        GridImage(number=i, artifact=stack.artifacts.put(data), caption=f"#{i} · final")
        for i, data in enumerate(pngs, 1)
    ]
    return Message(kind=MessageKind.GRID, campaign_id=campaign_id, text="Finals", images=images)


def uploads(messages: list[FakeMessage]) -> list[tuple[str, int]]:
    return [(a["filename"], a["size"]) for m in messages for a in m.data["attachments"]]


async def test_a_failed_reaction_seed_resumes_without_reposting_and_votes_on_the_grid_count(
    stack: Stack,
) -> None:
    fake = stack.fake
    fake.reaction_429s = 5  # discord.py's own five tries all get "wait"
    alice = fake.add_user("alice")
    campaign_id, thread_id, grid = await draft(stack, alice, n=4)
    assert fake.bot_reactions(grid.id) == []
    assert len(fake.rate_limited) == 5
    await fake.react(alice["id"], grid.id, NUMBER_EMOJI[1])  # a vote before the numbers are seeded
    await fake.wait_for("alice's vote", lambda: stack.adapter.handled["reaction"] >= 1)
    assert (await stack.service.vote_counts(campaign_id, 1))[2] == 1

    # the next touch of the campaign (the vote itself, or the sweep) resumes the seeding
    await stack.service.deliver_stale_effects(time.time() + 60)
    await fake.wait_for("the seeded numbers", lambda: len(fake.bot_reactions(grid.id)) == 4)
    assert sorted(fake.bot_reactions(grid.id)) == sorted(NUMBER_EMOJI[:4])
    grids = [m for m in fake.in_channel(thread_id) if m.data["attachments"]]
    assert [g.id for g in grids] == [grid.id]  # the grid went out once, its images were uploaded once
    assert (await stack.service.vote_counts(campaign_id, 1))[2] == 1


async def test_a_grid_of_final_size_images_fits_the_upload_limit_in_previews(stack: Stack) -> None:
    fake = stack.fake
    campaign_id, thread_id, _ = await draft(stack, fake.add_user("alice"), n=2)
    thread = ThreadRef(platform="discord", channel_id=CHANNEL_ID, thread_id=thread_id)
    pngs = [noise_png(640) for _ in range(12)]
    assert sum(map(len, pngs)) > fake.upload_limit  # as PNGs in one message: HTTP 413
    before = {m.id for m in fake.in_channel(thread_id)}

    posted = await stack.presenter.post(thread, grid_of(stack, campaign_id, pngs), MemoryPostLog())

    sent = [m for m in fake.in_channel(thread_id) if m.id not in before]
    assert sent[0].id == posted and "Finals" in sent[0].content
    files = uploads(sent)
    assert [name.split(".")[0] for name, _ in files] == [f"draft-{i}" for i in range(1, 13)]
    assert all(len(m.data["attachments"]) <= MAX_FILES for m in sent)
    assert all(sum(len(d) for d in m.files.values()) <= fake.upload_limit for m in sent)
    assert any(name.endswith(".jpg") for name, _ in files)  # previews where the PNGs would not fit
    assert "full file" not in sent[0].content  # each full file could go alone: nothing is oversize


async def test_a_final_over_the_upload_limit_is_a_preview_with_where_to_get_the_full_file(
    stack: Stack,
) -> None:
    fake = stack.fake
    campaign_id, thread_id, _ = await draft(stack, fake.add_user("alice"), n=2)
    thread = ThreadRef(platform="discord", channel_id=CHANNEL_ID, thread_id=thread_id)
    upscaled = noise_png(2048)  # a x4 upscale of a 512 px final
    assert len(upscaled) > fake.upload_limit
    message = grid_of(stack, campaign_id, [upscaled])

    posted = await stack.presenter.post(thread, message, MemoryPostLog())

    shown = fake.messages[posted]
    [(name, size)] = uploads([shown])
    assert name == "draft-1.jpg" and size <= fake.upload_limit
    artifact = message.images[0].artifact
    assert "#1 is shown as a preview" in shown.content and f"/artifacts/{artifact}" in shown.content
    assert len(shown.content) <= MAX_CONTENT

    # with a public address for the web app, the message links the full file (signed, expiring)
    links = FileLinks("a-test-secret", "https://bot.example.com")
    stack.presenter.full_file_url = links.url
    linked = fake.messages[await stack.presenter.post(thread, message, MemoryPostLog())]
    [url] = re.findall(r"<(https://bot\.example\.com/files/[^>]+)>", linked.content)
    key, query = url.removeprefix("https://bot.example.com/files/").split(".png?")
    params = dict(part.split("=") for part in query.split("&"))
    assert key == artifact and links.valid(key, params["exp"], params["sig"])


async def test_status_edits_stay_within_discords_per_channel_rate(stack: Stack) -> None:
    fake = stack.fake
    campaign_id, _, _ = await draft(stack, fake.add_user("alice"), n=2)
    campaign = await stack.service.campaign(campaign_id)
    assert campaign is not None
    effects = stack.service.ctx.effects
    for i in range(8):
        await effects.show_status(campaign, f"Stage {i}")
    await effects.status_edits.settled()
    assert [c for c in fake.rate_limited if c.method == "PATCH"] == []
    line = await effects.statuses.get("discord", campaign_id)
    assert line is not None and fake.messages[line.message_id].content == "Stage 7"


async def test_a_draft_in_a_forum_channel_opens_a_forum_post(stack: Stack) -> None:
    fake = stack.fake
    alice = fake.add_user("alice")
    inter = await fake.slash(alice, "draft", {"prompt": "a red fox in snow", "n": 2}, channel_id=FORUM_ID)
    reply = await replied(stack, inter)
    [post] = [t for t in fake.threads() if t["parent_id"] == FORUM_ID]
    assert f"<#{post['id']}>" in reply
    assert fake.messages[post["id"]].content == "a red fox in snow"  # the post's starter message
    await stack.deliver_all()
    assert [m for m in fake.in_channel(post["id"]) if m.data["attachments"]]


async def test_a_draft_in_an_announcement_channel_gets_a_clear_answer(stack: Stack) -> None:
    fake = stack.fake
    inter = await fake.slash(fake.add_user("alice"), "draft", {"prompt": "news"}, channel_id=ANNOUNCEMENTS_ID)
    reply = await replied(stack, inter)
    assert "announcement channel" in reply and "text or forum channel" in reply
    assert fake.threads() == [] and await stack.jobs() == []


def command_puts(calls: list[Any]) -> int:
    return len([c for c in calls if c.method == "PUT" and c.path.endswith("/commands")])


async def test_commands_are_registered_only_when_the_table_changed(stack: Stack) -> None:
    fake = stack.fake
    assert command_puts(fake.calls) == 1
    await stack.connect()  # another replica starts: Discord already has the same commands
    assert command_puts(fake.calls) == 1
    fake.commands[GUILD_ID] = fake.commands[GUILD_ID][:-1]  # an older table
    await stack.connect()
    assert command_puts(fake.calls) == 2
    assert {c["name"] for c in fake.commands[GUILD_ID]} >= {"draft", "help"}


async def test_a_message_over_discords_limits_is_refused_by_the_fake(stack: Stack) -> None:
    """The fake answers as Discord does, so the tests above would catch a post over the limits."""
    channel = stack.adapter.get_partial_messageable(int(CHANNEL_ID))
    for call in (
        lambda: channel.send(content="x" * (MAX_CONTENT + 1)),
        lambda: channel.send(files=[discord.File(io.BytesIO(b"x"), f"{i}.png") for i in range(11)]),
        lambda: channel.send(
            files=[discord.File(io.BytesIO(os.urandom(stack.fake.upload_limit + 1)), "a.png")]
        ),
    ):
        try:
            await call()
        except discord.HTTPException as exc:
            assert exc.status in (400, 413)
        else:
            raise AssertionError("the fake accepted a message over Discord's limits")
