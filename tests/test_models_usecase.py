"""The models and LoRAs a team may use, as the bot knows them from live workers' heartbeats: refusals
before anything is queued, `/help models`, and `/settings model` for a channel or a campaign."""

from __future__ import annotations

from pathlib import Path

import pytest
import redis.asyncio as aioredis

from bot.core.model import User
from bot.service import CampaignService
from engine import api
from engine.api import Job, LoraOffer
from engine.artifacts import ArtifactStore
from tests.test_service import PLATFORM, Clock, RecordingPresenter, queued_jobs

OWNER = User(id="owner", name="Olga")


@pytest.fixture
async def service(redis: aioredis.Redis, tmp_data_dir: Path) -> CampaignService:
    clock = Clock()
    beat = api.WorkerBeat(
        worker="gpu0",
        device="cuda",
        model="studio",
        at=clock(),
        models=["studio", "house", "product", "sd15"],
        families={"studio": "sd15", "house": "sd15", "product": "sdxl"},
        loras=[
            LoraOffer(name="ink", family="sd15", triggers=["inkwash", "brush strokes"]),
            LoraOffer(name="grain", family="sdxl"),
            LoraOffer(name="glow"),
        ],
    )
    await redis.hset(api.WORKERS_KEY, "gpu0", beat.model_dump_json())
    presenter = RecordingPresenter()
    return CampaignService(
        redis,
        ArtifactStore(tmp_data_dir / "artifacts"),
        {PLATFORM: presenter},
        clock=clock,
        retention_seconds=5000,
        default_model="studio",
    )


async def _say(
    service: CampaignService, text: str, thread: str | None = None, channel: str = "chan"
) -> list[str]:
    return await service.handle_text(PLATFORM, channel, thread, OWNER, text)


async def test_a_lora_for_another_family_or_unknown_is_refused_naming_what_fits(
    service: CampaignService, redis: aioredis.Redis
) -> None:
    (grain,) = await _say(service, "/draft a fox --lora grain")
    assert "'grain' is for sdxl models and 'studio' is sd15" in grain
    assert "LoRAs for studio: glow, ink" in grain
    (unknown,) = await _say(service, "/draft a fox --model product --lora inky")
    assert "no worker has a LoRA 'inky'" in unknown and "LoRAs for product: glow, grain" in unknown
    assert await queued_jobs(redis) == []
    assert await _say(service, "/draft a fox --model product --lora grain:0.5") == []
    assert await _say(service, "/draft a fox --lora ink --lora glow") == []
    jobs: list[Job] = await queued_jobs(redis)
    assert [(job.model, [lora.name for lora in job.loras]) for job in jobs] == [
        ("product", ["grain"]),
        ("studio", ["ink", "glow"]),
    ]


async def test_help_models_lists_models_and_loras_with_trigger_words(service: CampaignService) -> None:
    (text,) = await _say(service, "/help models")
    assert "• studio (default): sd15" in text and "• product: sdxl" in text and "• house: sd15" in text
    assert "• ink: sd15; trigger words: inkwash, brush strokes" in text
    assert "• glow: any model" in text and "• grain: sdxl" in text


async def test_settings_model_in_a_channel_sets_its_default_model(
    service: CampaignService, redis: aioredis.Redis
) -> None:
    (refused,) = await _say(service, "/settings model prodcut")
    assert "no worker knows 'prodcut'" in refused
    (done,) = await _say(service, "/settings model product")
    assert "use the model product" in done
    (listed,) = await _say(service, "/help models")
    assert "• product (default): sdxl" in listed
    assert await _say(service, "/draft a fox --lora grain") == []  # grain fits the channel's sdxl default
    assert await _say(service, "/draft a hen", channel="other") == []
    assert [job.model for job in await queued_jobs(redis)] == ["product", "studio"]
    (cleared,) = await _say(service, "/settings model none")
    assert "default model again" in cleared
    assert await _say(service, "/draft a cat") == []
    assert [job.model for job in await queued_jobs(redis)][-1] == "studio"


async def test_settings_model_in_a_thread_sets_the_campaigns_model(
    service: CampaignService, redis: aioredis.Redis
) -> None:
    assert await _say(service, "/draft a fox --n 1") == []
    thread = "thread-1"
    (refused,) = await _say(service, "/settings model nonesuch", thread=thread)
    assert "no worker knows 'nonesuch'" in refused
    await _say(service, "/settings model house", thread=thread)
    (first,) = await queued_jobs(redis)
    stored = await service.campaign(first.campaign_id)
    assert stored is not None and stored.settings.model == "house"
    # the campaign's next round uses it, and a LoRA is checked against it
    (grain,) = await _say(service, "/draft a fox again --lora grain", thread=thread)
    assert "'grain' is for sdxl models and 'house' is sd15" in grain
