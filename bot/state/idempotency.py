"""Idempotency markers: a retried platform event or a twice-delivered result is handled once."""

from __future__ import annotations

from redis.asyncio import Redis

from bot.state import keys

DEFAULT_SEEN_SECONDS = 86400


class SeenStore:
    def __init__(self, redis: Redis, *, ttl_seconds: int = DEFAULT_SEEN_SECONDS) -> None:
        self.redis = redis
        self.ttl_seconds = ttl_seconds

    async def claim(self, source: str, event_id: str, ttl_seconds: int | None = None) -> bool:
        """True the first time ``(source, event_id)`` is claimed within the TTL."""
        ttl = self.ttl_seconds if ttl_seconds is None else ttl_seconds
        return bool(await self.redis.set(keys.seen(source, event_id), "1", nx=True, ex=ttl))

    async def release(self, source: str, event_id: str) -> None:
        """Forget a claim whose handling failed, so the platform's retry is handled."""
        await self.redis.delete(keys.seen(source, event_id))

    async def mark(self, source: str, event_id: str, ttl_seconds: int | None = None) -> None:
        ttl = self.ttl_seconds if ttl_seconds is None else ttl_seconds
        await self.redis.set(keys.seen(source, event_id), "1", ex=ttl)

    async def is_seen(self, source: str, event_id: str) -> bool:
        return bool(await self.redis.exists(keys.seen(source, event_id)))
