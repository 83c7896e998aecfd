"""Votes: one sorted set per candidate, user id -> time of the vote (the earliest vote breaks ties).

ZADD NX makes a repeated vote a no-op that keeps the first time; ZREM removes it.
"""

from __future__ import annotations

from collections.abc import Iterable

from redis.asyncio import Redis

from bot.core.events import Tally
from bot.state import keys
from bot.state.codec import as_str


class VoteStore:
    def __init__(self, redis: Redis) -> None:
        self.redis = redis

    async def add(self, campaign_id: str, round_no: int, number: int, user_id: str, at: float) -> bool:
        """True when this is a new vote."""
        added = await self.redis.zadd(keys.votes(campaign_id, round_no, number), {user_id: at}, nx=True)
        return bool(added)

    async def remove(self, campaign_id: str, round_no: int, number: int, user_id: str) -> bool:
        return bool(await self.redis.zrem(keys.votes(campaign_id, round_no, number), user_id))

    async def tally(self, campaign_id: str, round_no: int, numbers: Iterable[int]) -> Tally:
        """Voters per candidate, earliest first; candidates without votes are left out."""
        wanted = list(numbers)
        async with self.redis.pipeline(transaction=False) as pipe:
            for n in wanted:
                pipe.zrange(keys.votes(campaign_id, round_no, n), 0, -1, withscores=True)
            replies = await pipe.execute()
        tally: Tally = {}
        for n, entries in zip(wanted, replies, strict=True):
            if entries:
                tally[n] = [(as_str(user), float(at)) for user, at in entries]
        return tally

    async def voted_by(
        self, campaign_id: str, round_no: int, numbers: Iterable[int], user_id: str
    ) -> set[int]:
        """The candidates among ``numbers`` that ``user_id`` voted for."""
        wanted = list(numbers)
        async with self.redis.pipeline(transaction=False) as pipe:
            for n in wanted:
                pipe.zscore(keys.votes(campaign_id, round_no, n), user_id)
            replies = await pipe.execute()
        return {n for n, score in zip(wanted, replies, strict=True) if score is not None}

    async def counts(self, campaign_id: str, round_no: int, numbers: Iterable[int]) -> dict[int, int]:
        wanted = list(numbers)
        async with self.redis.pipeline(transaction=False) as pipe:
            for n in wanted:
                pipe.zcard(keys.votes(campaign_id, round_no, n))
            replies = await pipe.execute()
        return {n: int(c) for n, c in zip(wanted, replies, strict=True)}
