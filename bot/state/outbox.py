"""A campaign's effects that are saved but not yet performed (posts, jobs, deadlines).

Entries are written by the same compare-and-set script that saves the campaign (see campaigns.py), so
a replica that stops after the save leaves them here for the next one. ``dl:outboxes`` remembers which
campaigns stored effects and when, so a periodic sweep finds the ones nobody came back to.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, get_args

from pydantic import BaseModel
from redis.asyncio import Redis

from bot.core.effects import Effect
from bot.state import keys
from bot.state.codec import as_str

_TYPES: dict[str, type[BaseModel]] = {cls.__name__: cls for cls in get_args(Effect)}
_TRIES = "tries:"

# KEYS[1] the outbox index; ARGV: campaign id, the score the caller saw empty
_SETTLE = """
local score = redis.call('ZSCORE', KEYS[1], ARGV[1])
if score and tonumber(score) == tonumber(ARGV[2]) then return redis.call('ZREM', KEYS[1], ARGV[1]) end
return 0
"""


class OutboxEntry(BaseModel):
    id: str
    version: int
    index: int
    at: float
    type: str
    effect: dict[str, object]

    def decoded(self) -> Effect:
        return _TYPES[self.type].model_validate(self.effect)  # type: ignore[return-value]


def effect_id(campaign_id: str, version: int, index: int) -> str:
    return f"{campaign_id}:{version}:{index}"


def encode(campaign_id: str, version: int, at: float, effects: Sequence[Effect]) -> list[str]:
    """Field/value pairs for HSET: one entry per effect, in the order they must be performed."""
    pairs: list[str] = []
    for index, effect in enumerate(effects):
        entry = OutboxEntry(
            id=effect_id(campaign_id, version, index),
            version=version,
            index=index,
            at=at,
            type=type(effect).__name__,
            effect=effect.model_dump(mode="json"),
        )
        pairs += [entry.id, entry.model_dump_json()]
    return pairs


class OutboxStore:
    def __init__(self, redis: Redis) -> None:
        self.redis = redis
        self._settle = redis.register_script(_SETTLE)

    async def register(self, campaign_id: str, at: float) -> None:
        """Note that effects are about to be stored for the campaign (before the write, so a stop after
        the write still leaves the campaign in the index)."""
        await self.redis.zadd(keys.OUTBOXES, {campaign_id: at})

    async def pending(self, campaign_id: str) -> list[OutboxEntry]:
        raw = await self.redis.hgetall(keys.outbox(campaign_id))  # type: ignore[misc]
        entries = [
            OutboxEntry.model_validate_json(value)
            for field, value in raw.items()
            if not as_str(field).startswith(_TRIES)
        ]
        return sorted(entries, key=lambda e: (e.version, e.index))

    async def pending_ids(self, campaign_id: str) -> set[str]:
        fields = await self.redis.hkeys(keys.outbox(campaign_id))  # type: ignore[misc]
        return {f for f in map(as_str, fields) if not f.startswith(_TRIES)}

    async def done(self, campaign_id: str, entry_id: str) -> None:
        await self.redis.hdel(keys.outbox(campaign_id), entry_id, _TRIES + entry_id)  # type: ignore[misc]

    async def failed(self, campaign_id: str, entry_id: str) -> int:
        """Count a failed attempt; returns the attempts so far."""
        return int(await self.redis.hincrby(keys.outbox(campaign_id), _TRIES + entry_id, 1))  # type: ignore[misc]

    async def drop(self, campaign_id: str) -> None:
        await self.redis.delete(keys.outbox(campaign_id))
        await self.redis.zrem(keys.OUTBOXES, campaign_id)

    async def stale(self, before: float, limit: int = 100) -> list[tuple[str, float]]:
        """Campaigns that stored effects at or before ``before``, oldest first, with that time."""
        found: Any = await self.redis.zrangebyscore(
            keys.OUTBOXES, "-inf", before, start=0, num=limit, withscores=True
        )
        return [(as_str(member), float(score)) for member, score in found]

    async def settle(self, campaign_id: str, seen_at: float) -> bool:
        """Forget an empty outbox, unless effects were registered for it since ``seen_at``."""
        if await self.redis.hlen(keys.outbox(campaign_id)):  # type: ignore[misc]
            return False
        return bool(await self._settle(keys=[keys.OUTBOXES], args=[campaign_id, repr(seen_at)]))


__all__ = ["OutboxEntry", "OutboxStore", "effect_id", "encode"]
