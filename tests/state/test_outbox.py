from __future__ import annotations

import redis as sync_redis
import redis.asyncio as aioredis

from bot.core.effects import CloseVoting, Effect, OpenVoting
from bot.core.model import Campaign, ThreadRef
from bot.redis_server import EmbeddedRedis
from bot.state import keys
from bot.state.campaigns import CampaignStore

THREAD = ThreadRef(platform="discord", channel_id="c1", thread_id="t1")


def make(campaign_id: str = "camp1") -> Campaign:
    return Campaign(id=campaign_id, thread=THREAD, owner="owner", created_at=100.0, updated_at=100.0)


async def test_effects_are_stored_with_the_write_that_won_and_not_with_a_lost_attempt(
    redis: aioredis.Redis, redis_server: EmbeddedRedis
) -> None:
    store = CampaignStore(redis)
    await store.create(make(), [OpenVoting(round_no=1, deadline=5.0)], now=100.0)
    other = sync_redis.Redis(unix_socket_path=str(redis_server.socket))
    attempts: list[int] = []

    def step(c: Campaign) -> tuple[Campaign, list[Effect]]:
        attempts.append(c.version)
        if len(attempts) == 1:  # another replica saves between our read and our write
            rival = c.model_copy(deep=True)
            rival.version += 1
            other.set(keys.campaign(c.id), rival.model_dump_json())
        c.selected.append(len(attempts))
        return c, [CloseVoting(round_no=len(attempts))]

    saved, _, wrote = await store.update_with_effects("camp1", step, lambda effects: effects, now=200.0)
    other.close()
    assert wrote and saved.version == 2 and attempts == [0, 1]
    pending = await store.outbox.pending("camp1")
    assert [e.decoded() for e in pending] == [OpenVoting(round_no=1, deadline=5.0), CloseVoting(round_no=2)]
    assert [e.at for e in pending] == [100.0, 200.0]
    # an unchanged document writes nothing and stores nothing
    same, _, wrote = await store.update_with_effects(
        "camp1", lambda c: (c, [CloseVoting(round_no=9)]), lambda effects: effects, now=300.0
    )
    assert not wrote and same == saved and len(await store.outbox.pending("camp1")) == 2


async def test_an_outbox_is_forgotten_only_when_empty_and_not_registered_again(redis: aioredis.Redis) -> None:
    store = CampaignStore(redis)
    await store.create(make(), [CloseVoting(round_no=1)], now=100.0)
    assert await store.outbox.stale(150.0) == [("camp1", 100.0)]
    assert not await store.outbox.settle("camp1", 100.0)  # still holds an effect
    (entry,) = await store.outbox.pending("camp1")
    await store.outbox.done("camp1", entry.id)
    await store.outbox.register("camp1", 120.0)  # a write is about to store effects again
    assert not await store.outbox.settle("camp1", 100.0)
    assert await store.outbox.settle("camp1", 120.0)
    assert await store.outbox.stale(1e12) == []
