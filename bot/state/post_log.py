"""What of one post already went out (``bot.ports.PostLog``), kept per effect id in Redis.

A post is a sequence of parts; the presenter records each part as it succeeds, so a post retried after a
failure (or by another replica) skips what was shown and resumes at the first part not done. The log
expires after a day, or sooner with the campaign's own retention.
"""

from __future__ import annotations

from redis.asyncio import Redis

from bot.state import keys
from bot.state.codec import as_str
from bot.state.message_index import MessageIndex

POST_LOG_SECONDS = 86400
POSTED = "posted"  # the whole post is done: the id of the message that carries its text


class RedisPostLog:
    """The parts of one effect's post. ``round_no`` is set on a voting grid: ``vote_target`` then records
    the message as one whose reactions are votes on that round."""

    def __init__(
        self,
        redis: Redis,
        effect_id: str,
        *,
        platform: str,
        campaign_id: str,
        round_no: int | None,
        ttl_seconds: int = POST_LOG_SECONDS,
        grid_index: int = 0,
    ) -> None:
        self.redis = redis
        self.grid_index = grid_index
        self.key = keys.post_log(effect_id)
        self.platform = platform
        self.campaign_id = campaign_id
        self.round_no = round_no
        self.ttl_seconds = max(1, min(ttl_seconds, POST_LOG_SECONDS))
        self._messages = MessageIndex(redis)

    async def done(self, part: str) -> str | None:
        raw = await self.redis.hget(self.key, part)  # type: ignore[misc]
        return None if raw is None else as_str(raw)

    async def record(self, part: str, platform_id: str) -> None:
        async with self.redis.pipeline(transaction=False) as pipe:
            pipe.hset(self.key, part, platform_id)
            pipe.expire(self.key, self.ttl_seconds)
            await pipe.execute()

    async def vote_target(self, message_id: str) -> None:
        if self.round_no is not None:
            await self._messages.record(
                self.platform, message_id, self.campaign_id, self.round_no, self.grid_index
            )

    async def parts(self) -> dict[str, str]:
        raw = await self.redis.hgetall(self.key)  # type: ignore[misc]
        return {as_str(k): as_str(v) for k, v in raw.items()}


class MemoryPostLog:
    """A post log for a post that is never retried (a notice, a post with no stored effect)."""

    def __init__(
        self,
        redis: Redis | None = None,
        *,
        platform: str = "",
        campaign_id: str = "",
        round_no: int | None = None,
        grid_index: int = 0,
    ) -> None:
        self.grid_index = grid_index
        self._parts: dict[str, str] = {}
        self._messages = MessageIndex(redis) if redis is not None else None
        self.platform = platform
        self.campaign_id = campaign_id
        self.round_no = round_no

    async def done(self, part: str) -> str | None:
        return self._parts.get(part)

    async def record(self, part: str, platform_id: str) -> None:
        self._parts[part] = platform_id

    async def vote_target(self, message_id: str) -> None:
        if self._messages is not None and self.round_no is not None:
            await self._messages.record(
                self.platform, message_id, self.campaign_id, self.round_no, self.grid_index
            )

    async def parts(self) -> dict[str, str]:
        return dict(self._parts)
