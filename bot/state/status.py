"""Where each campaign's status line is: its platform message id and the text it shows.

One hash per campaign and platform (``dl:status:{platform}:{campaign}``, fields ``id`` and ``text``), so
every replica edits the same message and skips an edit that would show the same text again.
"""

from __future__ import annotations

from dataclasses import dataclass

from redis.asyncio import Redis
from redis.exceptions import ResponseError

from bot.state import keys
from bot.state.codec import as_str

_ID = "id"
_TEXT = "text"


@dataclass(frozen=True)
class StatusLine:
    message_id: str
    text: str


class StatusStore:
    def __init__(self, redis: Redis) -> None:
        self.redis = redis

    async def get(self, platform: str, campaign_id: str) -> StatusLine | None:
        key = keys.status_message(platform, campaign_id)
        try:
            raw = await self.redis.hgetall(key)  # type: ignore[misc]
        except ResponseError:  # a plain message id written by an earlier version: post a new line
            await self.redis.delete(key)
            return None
        fields = {as_str(k): as_str(v) for k, v in raw.items()}
        if _ID not in fields:
            return None
        return StatusLine(message_id=fields[_ID], text=fields.get(_TEXT, ""))

    async def claim(self, platform: str, campaign_id: str, message_id: str, text: str) -> str:
        """Record ``message_id`` as the status line unless one is recorded; returns the recorded id."""
        key = keys.status_message(platform, campaign_id)
        if await self.redis.hsetnx(key, _ID, message_id):  # type: ignore[misc]
            async with self.redis.pipeline(transaction=False) as pipe:
                pipe.hset(key, _TEXT, text)
                pipe.sadd(keys.campaign_messages(campaign_id), key)
                await pipe.execute()
            return message_id
        recorded = await self.redis.hget(key, _ID)  # type: ignore[misc]
        return as_str(recorded) if recorded is not None else message_id

    async def shown(self, platform: str, campaign_id: str, text: str) -> None:
        await self.redis.hset(keys.status_message(platform, campaign_id), _TEXT, text)  # type: ignore[misc]

    async def forget(self, platform: str, campaign_id: str) -> None:
        await self.redis.delete(keys.status_message(platform, campaign_id))

    @staticmethod
    def lease(platform: str, campaign_id: str) -> str:
        """The lease held while a replica posts a campaign's first status line."""
        return keys.status_lease(platform, campaign_id)
