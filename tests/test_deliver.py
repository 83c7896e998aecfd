"""/deliver: a zip of the finals with a contact sheet and the lineage, posted in the campaign's thread."""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path

import pytest
import redis.asyncio as aioredis
from PIL import Image

from bot.core import machine
from bot.core.effects import Post, UpdateStatus
from bot.core.events import Packed
from bot.core.messages import MessageFile
from bot.core.model import ThreadRef
from bot.service import CampaignService
from engine.artifacts import ArtifactStore
from tests.test_outbox import DownForFirstPost
from tests.test_service import OWNER, PLATFORM, World, make_world, voting_campaign
from tests.test_service import deliver as run_engine

THREAD = "thread-1"


@pytest.fixture
async def world(redis: aioredis.Redis, tmp_data_dir: Path) -> World:
    return make_world(redis, ArtifactStore(tmp_data_dir / "artifacts"))


def zip_of(w: World, file: MessageFile) -> zipfile.ZipFile:
    return zipfile.ZipFile(io.BytesIO(w.artifacts.get(file.artifact)))


async def test_deliver_posts_the_finals_contact_sheet_and_lineage(world: World) -> None:
    w = world
    campaign_id, _ = await voting_campaign(w, "/draft a lighthouse at dusk --n 4 --vote 10m")
    (early,) = await w.service.handle_text(PLATFORM, "chan", THREAD, OWNER, "/deliver")
    assert "Nothing to deliver yet" in early and "/refine" in early
    assert not any(m.files for _, m, _ in w.presenter.posts)

    await w.service.handle_text(PLATFORM, "chan", THREAD, OWNER, "/select 2")
    await run_engine(w)  # the refine of #2 is #5
    await w.service.handle_text(PLATFORM, "chan", THREAD, OWNER, "/upscale 5 2")
    await run_engine(w)  # the upscale of #5 is #6

    (reply,) = await w.service.handle_text(PLATFORM, "chan", THREAD, OWNER, "/deliver")
    assert reply == "Packing 2 finals: #5, #6."
    (post,) = [m for _, m, _ in w.presenter.posts if m.files]
    zip_file, sheet = post.files
    assert zip_file.name.startswith("a-lighthouse-at-dusk-") and zip_file.name.endswith("-finals.zip")
    assert zip_file.media_type == "application/zip" and sheet.media_type == "image/png"
    assert zip_file.size == len(w.artifacts.get(zip_file.artifact))
    assert "#5, #6" in post.text

    archive = zip_of(w, zip_file)
    names = archive.namelist()
    campaign = await w.service.campaign(campaign_id)
    assert campaign is not None
    c5, c6 = campaign.candidates[5], campaign.candidates[6]
    assert names == [
        f"005-refine-seed{c5.seed}.png",
        f"006-upscale-seed{c6.seed}.png",
        "contact-sheet.png",
        "lineage.json",
    ]
    assert archive.read(names[0]) == w.artifacts.get(c5.artifact)  # the file as the engine wrote it
    lineage = json.loads(archive.read("lineage.json"))
    assert lineage["campaign"] == campaign_id and lineage["delivered"] == [5, 6]
    parents = {img["number"]: img["parent"] for img in lineage["images"]}
    assert parents == {2: None, 5: 2, 6: 5}  # the finals and the draft they came from
    assert archive.read("contact-sheet.png") == w.artifacts.get(sheet.artifact)
    contact = Image.open(io.BytesIO(archive.read("contact-sheet.png")))
    assert contact.size == (2 * 256, 256 + 20)  # two tiles, one row, a caption strip


async def test_deliver_from_the_channel_names_the_campaign(world: World) -> None:
    w = world
    campaign_id, _ = await voting_campaign(w)
    await w.service.handle_text(PLATFORM, "chan", THREAD, OWNER, "/select 1")
    await run_engine(w)
    (reply,) = await w.service.handle_text(
        PLATFORM, "chan", None, OWNER, f"/deliver --campaign {campaign_id[:6]}"
    )
    assert "Packing 1 final: #5." in reply
    (post,) = [m for _, m, _ in w.presenter.posts if m.files]
    assert zip_of(w, post.files[0]).namelist()[0].startswith("005-refine-")


async def test_a_delivery_whose_post_failed_is_retried_by_the_sweep_and_shown_once(world: World) -> None:
    w = world
    campaign_id, _ = await voting_campaign(w)
    await w.service.handle_text(PLATFORM, "chan", THREAD, OWNER, "/select 1")
    await run_engine(w)
    down = DownForFirstPost()
    service = CampaignService(w.redis, w.artifacts, {PLATFORM: down}, clock=w.clock, retention_seconds=5000)

    (reply,) = await service.handle_text(PLATFORM, "chan", THREAD, OWNER, "/deliver")
    assert reply == "Packing 1 final: #5."
    assert down.failed and not [m for _, m, _ in down.posts if m.files]
    campaign = await service.campaign(campaign_id)
    assert campaign is not None and campaign.deliverables == [5]
    assert "delivered #5" in down.statuses[-1][1]

    w.clock.now += 60
    await service.deliver_stale_effects(w.clock.now)
    (post,) = [m for _, m, _ in down.posts if m.files]
    assert "#5" in post.text and zip_of(w, post.files[0]).namelist()[0].startswith("005-refine-")
    w.clock.now += 60
    await service.deliver_stale_effects(w.clock.now)
    assert len([m for _, m, _ in down.posts if m.files]) == 1


def test_each_delivery_is_a_new_version_whose_post_carries_the_files() -> None:
    thread = ThreadRef(platform=PLATFORM, channel_id="chan", thread_id=THREAD)
    campaign = machine.new_campaign("c1", thread, OWNER, now=1.0)
    zip_file = MessageFile(name="fox-finals.zip", artifact="ab" * 32, size=10, media_type="application/zip")
    sheet = MessageFile(name="fox-contact-sheet.png", artifact="cd" * 32, size=5, media_type="image/png")
    packed = Packed(user=OWNER, zip_file=zip_file, sheet=sheet, numbers=[5, 6])
    once, effects = machine.apply(campaign, packed, 2.0)
    post, status = effects
    assert (
        isinstance(post, Post) and post.message.files == [zip_file, sheet] and "#5, #6" in post.message.text
    )
    assert isinstance(status, UpdateStatus) and "delivered #5, #6" in status.text
    assert once.deliverables == [5, 6] and once.deliveries == 1
    twice, _ = machine.apply(once, packed, 2.0)  # the same package again, at the same time
    assert twice != once and twice.deliveries == 2


def test_an_over_limit_file_says_where_the_full_file_is() -> None:
    file = MessageFile(name="x-finals.zip", artifact="ab" * 32, size=12 * 2**20, media_type="application/zip")
    note = file.over_limit_note(10 * 2**20, None)
    assert "12.0 MiB" in note and "10 MiB" in note and f"/artifacts/{'ab' * 32}?name=x-finals.zip" in note
    assert file.over_limit_note(10 * 2**20, "https://bot.example/files/k").endswith(
        "https://bot.example/files/k"
    )
