from __future__ import annotations

import asyncio

import redis.asyncio as aioredis

from bot.redis_server import EmbeddedRedis
from bot.state.deadlines import DeadlineStore
from bot.state.idempotency import SeenStore
from bot.state.message_index import MessageIndex
from bot.state.quota import QuotaStore
from bot.state.votes import VoteStore


async def test_a_repeated_vote_keeps_the_first_time_and_unvote_removes_it(redis: aioredis.Redis) -> None:
    votes = VoteStore(redis)
    assert await votes.add("c", 1, 2, "bob", 20.0)
    assert await votes.add("c", 1, 2, "alice", 10.0)
    assert not await votes.add("c", 1, 2, "bob", 30.0)
    assert await votes.add("c", 1, 3, "bob", 25.0)
    assert await votes.tally("c", 1, [1, 2, 3]) == {2: [("alice", 10.0), ("bob", 20.0)], 3: [("bob", 25.0)]}
    assert await votes.remove("c", 1, 3, "bob")
    assert not await votes.remove("c", 1, 3, "bob")
    assert await votes.tally("c", 1, [1, 2, 3]) == {2: [("alice", 10.0), ("bob", 20.0)]}
    assert await votes.counts("c", 1, [1, 2, 3]) == {1: 0, 2: 2, 3: 0}
    assert await votes.tally("c", 2, [2]) == {}


async def test_a_due_round_is_claimed_by_exactly_one_replica(
    redis: aioredis.Redis, redis_server: EmbeddedRedis
) -> None:
    clients = [aioredis.Redis.from_url(redis_server.url) for _ in range(4)]
    stores = [DeadlineStore(c) for c in clients]
    await stores[0].set("camp", 1, 100.0)
    await stores[0].set("camp", 2, 300.0)
    await stores[0].set("other:with:colons", 3, 50.0)
    assert await stores[1].due(200.0) == [("other:with:colons", 3), ("camp", 1)]
    assert await stores[1].get("camp", 2) == 300.0
    claims = await asyncio.gather(*(s.claim("camp", 1) for s in stores))
    assert sorted(claims) == [False, False, False, True]
    assert await stores[2].due(200.0) == [("other:with:colons", 3)]
    for c in clients:
        await c.aclose()


async def test_an_event_is_claimed_once_until_released(redis: aioredis.Redis) -> None:
    seen = SeenStore(redis, ttl_seconds=100)
    assert await seen.claim("discord", "e1")
    assert not await seen.claim("discord", "e1")
    assert await seen.claim("slack", "e1")
    assert 0 < await redis.ttl("dl:seen:discord:e1") <= 100
    await seen.release("discord", "e1")
    assert await seen.claim("discord", "e1")
    assert not await seen.is_seen("result", "j1")
    await seen.mark("result", "j1")
    assert await seen.is_seen("result", "j1")


async def test_message_index_and_quota(redis: aioredis.Redis) -> None:
    index = MessageIndex(redis)
    await index.record("discord", "123", "camp", 4)
    assert await index.lookup("discord", "123") == ("camp", 4)
    assert await index.lookup("slack", "123") is None
    quota = QuotaStore(redis)
    day1, day2 = 1_700_000_000.0, 1_700_000_000.0 + 86400
    assert await quota.used("u", day1) == 0
    assert await quota.add("u", 4, day1) == 4
    assert await quota.add("u", 3, day1) == 7
    assert await quota.used("u", day2) == 0
