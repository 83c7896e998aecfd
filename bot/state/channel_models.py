"""Each channel's default model (``/settings model NAME`` typed in a channel): one Redis hash field per
channel, kept until it is changed."""

from __future__ import annotations

from redis.asyncio import Redis

from bot.state.codec import as_str
from bot.state.keys import PREFIX

CHANNEL_MODELS = f"{PREFIX}:channel-models"  # hash: "{platform}:{channel}" -> model name


class ChannelModels:
    def __init__(self, redis: Redis) -> None:
        self.redis = redis

    async def get(self, platform: str, channel_id: str) -> str | None:
        raw = await self.redis.hget(CHANNEL_MODELS, f"{platform}:{channel_id}")  # type: ignore[misc]
        return as_str(raw) if raw else None

    async def set(self, platform: str, channel_id: str, model: str | None) -> None:
        """``model`` None clears the channel's default (the workers' default applies again)."""
        field = f"{platform}:{channel_id}"
        if model:
            await self.redis.hset(CHANNEL_MODELS, field, model)  # type: ignore[misc]
        else:
            await self.redis.hdel(CHANNEL_MODELS, field)  # type: ignore[misc]
