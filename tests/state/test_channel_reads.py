"""Reading a channel costs the same however long its history: the listing (and /status) read the newest
campaigns through the channel's sorted set, and "which live campaign?" reads the small live index."""

from __future__ import annotations

import redis.asyncio as aioredis

from bot.core.model import Campaign, Stage, ThreadRef
from bot.state.campaigns import NEWEST_IN_CHANNEL, CampaignStore


def _campaign(i: int, channel: str, stage: Stage) -> Campaign:
    thread = ThreadRef(platform="web", channel_id=channel, thread_id=f"t{i}")
    return Campaign(
        id=f"{channel}-{i:05d}",
        thread=thread,
        owner="o",
        created_at=float(i),
        updated_at=float(i),
        stage=stage,
    )


async def _fill(store: CampaignStore, channel: str, total: int, live: int) -> None:
    for i in range(total):
        stage = Stage.VOTING if i >= total - live else Stage.CANCELLED
        await store.create(_campaign(i, channel, stage))


async def _commands_run(redis: aioredis.Redis) -> int:
    stats = await redis.info("commandstats")
    return sum(int(v["calls"]) for k, v in stats.items() if k not in ("cmdstat_info", "cmdstat_config"))


class _Counting(CampaignStore):
    """Counts the campaign documents read."""

    documents_read = 0

    async def load_many(self, campaign_ids: list[str]) -> list[Campaign | None]:
        self.documents_read += len(campaign_ids)
        return await super().load_many(campaign_ids)


async def _cost_of_reading(
    redis: aioredis.Redis, channel: str
) -> tuple[int, int, list[Campaign], list[Campaign]]:
    store = _Counting(redis)
    await store.live_in_channel("web", channel)  # builds the live index once for a channel that predates it
    await redis.config_resetstat()
    newest = await store.in_channel("web", channel, NEWEST_IN_CHANNEL)
    total = await store.count_in_channel("web", channel)
    live = await store.live_in_channel("web", channel)
    assert total >= len(newest)
    return await _commands_run(redis), store.documents_read, newest, live


async def test_listing_and_live_campaigns_cost_the_same_for_30_or_500_campaigns(
    redis: aioredis.Redis,
) -> None:
    store = CampaignStore(redis)
    await _fill(store, "small", 30, live=3)
    await _fill(store, "big", 500, live=3)

    small_commands, _, small_newest, small_live = await _cost_of_reading(redis, "small")
    big_commands, _, big_newest, big_live = await _cost_of_reading(redis, "big")

    assert small_commands == big_commands
    assert len(small_newest) == len(big_newest) == NEWEST_IN_CHANNEL
    assert [c.id for c in big_newest] == [f"big-{i:05d}" for i in range(499, 499 - NEWEST_IN_CHANNEL, -1)]
    assert [c.id for c in big_live] == ["big-00499", "big-00498", "big-00497"]
    assert len(small_live) == 3
    assert await store.count_in_channel("web", "big") == 500


async def test_documents_read_do_not_grow_with_history(redis: aioredis.Redis) -> None:
    store = CampaignStore(redis)
    await _fill(store, "small", 30, live=2)
    await _fill(store, "big", 500, live=2)
    counted = []
    for channel in ("small", "big"):
        reader = _Counting(redis)
        await reader.live_in_channel("web", channel)
        reader.documents_read = 0
        await reader.in_channel("web", channel, NEWEST_IN_CHANNEL)
        await reader.live_in_channel("web", channel)
        counted.append(reader.documents_read)
    assert counted[0] == counted[1] == NEWEST_IN_CHANNEL + 2


async def test_the_live_index_follows_stage_changes_and_heals(redis: aioredis.Redis) -> None:
    store = CampaignStore(redis)
    await _fill(store, "c", 4, live=4)
    assert len(await store.live_in_channel("web", "c")) == 4
    await store.update("c-00003", lambda c: (c.model_copy(update={"stage": Stage.CANCELLED}), None))
    assert [c.id for c in await store.live_in_channel("web", "c")] == ["c-00002", "c-00001", "c-00000"]
    await store.update("c-00003", lambda c: (c.model_copy(update={"stage": Stage.DRAFTING}), None))
    assert len(await store.live_in_channel("web", "c")) == 4
    await redis.delete("dl:campaign:c-00000")  # expired under retention
    assert [c.id for c in await store.live_in_channel("web", "c")] == ["c-00003", "c-00002", "c-00001"]


async def test_a_limited_listing_skips_expired_ids_and_still_fills(redis: aioredis.Redis) -> None:
    store = CampaignStore(redis)
    await _fill(store, "c", 10, live=10)
    for i in (9, 8, 5):
        await redis.delete(f"dl:campaign:c-{i:05d}")
    listed = await store.in_channel("web", "c", 4)
    assert [c.id for c in listed] == ["c-00007", "c-00006", "c-00004", "c-00003"]
    assert await store.count_in_channel("web", "c") == 7
