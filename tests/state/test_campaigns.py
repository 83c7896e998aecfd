from __future__ import annotations

import asyncio

import pytest
import redis as sync_redis
import redis.asyncio as aioredis

from bot.core.model import Campaign, Round, Stage, ThreadRef
from bot.redis_server import EmbeddedRedis
from bot.state import keys
from bot.state.campaigns import CampaignExists, CampaignNotFound, CampaignStore
from bot.state.message_index import MessageIndex
from bot.state.votes import VoteStore

THREAD = ThreadRef(platform="discord", channel_id="c1", thread_id="t1")


def make(campaign_id: str = "camp1", thread: ThreadRef = THREAD, at: float = 100.0) -> Campaign:
    return Campaign(id=campaign_id, thread=thread, owner="owner", created_at=at, updated_at=at)


async def test_create_load_and_indexes(redis: aioredis.Redis) -> None:
    store = CampaignStore(redis)
    await store.create(make())
    loaded = await store.load("camp1")
    assert loaded is not None and loaded.owner == "owner" and loaded.version == 0
    assert (await store.for_thread(THREAD)) == loaded
    assert await store.for_thread(ThreadRef(platform="discord", channel_id="c1", thread_id="other")) is None
    with pytest.raises(CampaignExists):
        await store.create(make())
    assert await store.load("missing") is None


async def test_update_bumps_the_version_and_skips_unchanged_writes(redis: aioredis.Redis) -> None:
    store = CampaignStore(redis)
    await store.create(make())

    def select(c: Campaign) -> tuple[Campaign, str]:
        c.selected.append(3)
        return c, "ok"

    saved, out = await store.update("camp1", select)
    assert out == "ok" and saved.version == 1 and saved.selected == [3]
    same, _ = await store.update("camp1", lambda c: (c, None))
    assert same.version == 1
    assert (await store.load("camp1")) == saved
    with pytest.raises(CampaignNotFound):
        await store.update("nope", select)


async def test_a_conflicting_write_makes_update_retry_on_the_fresh_document(
    redis: aioredis.Redis, redis_server: EmbeddedRedis
) -> None:
    store = CampaignStore(redis)
    await store.create(make())
    other = sync_redis.Redis(unix_socket_path=str(redis_server.socket))
    calls: list[list[int]] = []

    def add_five(c: Campaign) -> tuple[Campaign, None]:
        calls.append(list(c.selected))
        if len(calls) == 1:  # another replica saves between our read and our write
            rival = c.model_copy(deep=True)
            rival.selected.append(7)
            rival.version += 1
            other.set(keys.campaign(c.id), rival.model_dump_json())
        c.selected.append(5)
        return c, None

    saved, _ = await store.update("camp1", add_five)
    other.close()
    assert calls == [[], [7]]
    assert saved.selected == [7, 5] and saved.version == 2
    assert (await store.load("camp1")) == saved


async def test_concurrent_updates_from_two_clients_lose_nothing(
    redis: aioredis.Redis, redis_server: EmbeddedRedis
) -> None:
    second = aioredis.Redis.from_url(redis_server.url)
    stores = [CampaignStore(redis), CampaignStore(second)]
    await stores[0].create(make())

    async def add(i: int) -> None:
        def step(c: Campaign) -> tuple[Campaign, None]:
            c.selected.append(i)
            return c, None

        await stores[i % 2].update("camp1", step)

    await asyncio.gather(*(add(i) for i in range(40)))
    await second.aclose()
    final = await stores[0].load("camp1")
    assert final is not None
    assert sorted(final.selected) == list(range(40))
    assert final.version == 40


async def test_channel_listing_newest_first_and_drops_expired(redis: aioredis.Redis) -> None:
    store = CampaignStore(redis)
    for i, at in enumerate([10.0, 30.0, 20.0]):
        thread = ThreadRef(platform="slack", channel_id="C9", thread_id=f"t{i}")
        await store.create(make(f"c{i}", thread, at))
    await store.create(make("elsewhere", ThreadRef(platform="slack", channel_id="C8", thread_id="x")))
    assert [c.id for c in await store.in_channel("slack", "C9")] == ["c1", "c2", "c0"]
    await redis.delete(keys.campaign("c2"))
    assert [c.id for c in await store.in_channel("slack", "C9")] == ["c1", "c0"]
    assert await redis.zscore(keys.channel("slack", "C9"), "c2") is None


async def test_finished_campaigns_expire_with_their_keys_and_revive_without(redis: aioredis.Redis) -> None:
    store = CampaignStore(redis, retention_seconds=5000)
    messages, votes = MessageIndex(redis), VoteStore(redis)
    await store.create(make())

    def voting(c: Campaign) -> tuple[Campaign, None]:
        c.stage = Stage.VOTING
        c.rounds.append(Round(number=1, kind="draft", candidates=[1, 2], open=True))
        return c, None

    await store.update("camp1", voting)
    await messages.record("discord", "m1", "camp1", 1)
    await votes.add("camp1", 1, 2, "alice", 1.0)
    owned = [
        keys.campaign("camp1"),
        keys.thread("discord", "c1", "t1"),
        keys.message("discord", "m1"),
        keys.campaign_messages("camp1"),
        keys.votes("camp1", 1, 2),
    ]
    assert [await redis.ttl(k) for k in owned] == [-1] * len(owned)

    def finish(stage: Stage) -> object:
        def step(c: Campaign) -> tuple[Campaign, None]:
            c.stage = stage
            return c, None

        return step

    for stage in (Stage.CANCELLED, Stage.DONE, Stage.FAILED):
        await store.update("camp1", finish(stage))  # type: ignore[arg-type]
        ttls = [await redis.ttl(k) for k in owned]
        assert all(0 < t <= 5000 for t in ttls), (stage, ttls)
        await store.update("camp1", finish(Stage.EDITING))  # type: ignore[arg-type]
        assert [await redis.ttl(k) for k in owned] == [-1] * len(owned)


async def test_a_finished_campaign_does_not_expire_the_thread_of_its_successor(redis: aioredis.Redis) -> None:
    store = CampaignStore(redis, retention_seconds=5000)
    await store.create(make("old"))
    await store.create(make("new"))  # a new /draft in the same thread took it over

    def cancel(c: Campaign) -> tuple[Campaign, None]:
        c.stage = Stage.CANCELLED
        return c, None

    await store.update("old", cancel)
    assert await redis.ttl(keys.thread("discord", "c1", "t1")) == -1
    assert (await store.for_thread(THREAD)) is not None
    assert (await store.id_for_thread(THREAD)) == "new"
