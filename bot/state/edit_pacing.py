"""Shared pacing of status edits, so every replica together stays within a campaign's pace and a
platform's rate limit. Times are the caller's clock (seconds), passed in.

- The pace (``dl:pace:{platform}:{campaign}``): the time of the campaign's last edit. A paced edit (step
  progress) waits until ``interval`` seconds passed since then; an unpaced one (a stage change) only
  records its time.
- The budget (``dl:budget:{platform}:{scope}``): a sliding log of recent edits; an edit is let through
  while fewer than ``edits`` happened in the last ``per_seconds``.
"""

from __future__ import annotations

import math
import secrets

from redis.asyncio import Redis

from bot.state import keys

PACE_KEY_SECONDS = 3600

# KEYS[1] pace; ARGV: now, interval (0 = record only), key ttl. Returns the seconds to wait ("0": go).
_PACE = """
local last = redis.call('GET', KEYS[1])
local now, interval = tonumber(ARGV[1]), tonumber(ARGV[2])
if interval > 0 and last and now - tonumber(last) < interval then
  return tostring(tonumber(last) + interval - now)
end
redis.call('SET', KEYS[1], ARGV[1], 'EX', ARGV[3])
return '0'
"""

# KEYS[1] budget log; ARGV: now, window seconds, most edits, a unique member. Returns seconds to wait.
_TAKE = """
local now, window, most = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - window)
if redis.call('ZCARD', KEYS[1]) < most then
  redis.call('ZADD', KEYS[1], now, ARGV[4])
  redis.call('EXPIRE', KEYS[1], math.ceil(window) + 1)
  return '0'
end
local oldest = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
return tostring(tonumber(oldest[2]) + window - now)
"""


class EditPacing:
    def __init__(self, redis: Redis) -> None:
        self.redis = redis
        self._pace = redis.register_script(_PACE)
        self._take = redis.register_script(_TAKE)
        self._serial = 0
        self._name = secrets.token_hex(6)

    async def pace(self, platform: str, campaign_id: str, now: float, interval: float) -> float:
        """0 when the campaign may be edited now (and records it), else the seconds to wait."""
        key = keys.edit_pace(platform, campaign_id)
        wait = await self._pace(keys=[key], args=[repr(now), repr(interval), PACE_KEY_SECONDS])
        return max(0.0, float(wait))

    async def take(self, platform: str, scope: str, now: float, edits: int, per_seconds: float) -> float:
        """0 when an edit fits the budget (and counts it), else the seconds until one does."""
        self._serial += 1
        member = f"{now!r}:{self._name}:{self._serial}"
        key = keys.edit_budget(platform, scope)
        wait = await self._take(keys=[key], args=[repr(now), repr(per_seconds), edits, member])
        return max(0.0, float(wait)) if math.isfinite(float(wait)) else per_seconds
