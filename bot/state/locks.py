"""Short leases (``dl:lock:*``, SET NX PX): one replica at a time does a piece of work."""

from __future__ import annotations

import secrets

from redis.asyncio import Redis

# KEYS[1] lease; ARGV[1] the holder's token: only the holder releases it
_RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""


class Leases:
    def __init__(self, redis: Redis) -> None:
        self.redis = redis
        self._release = redis.register_script(_RELEASE)

    async def acquire(self, key: str, ms: int) -> str | None:
        """A token when this caller now holds the lease for ``ms`` milliseconds, else None."""
        token = secrets.token_hex(8)
        return token if await self.redis.set(key, token, nx=True, px=ms) else None

    async def release(self, key: str, token: str) -> None:
        await self._release(keys=[key], args=[token])
