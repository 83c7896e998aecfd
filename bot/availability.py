"""Why the bot cannot answer right now, as exceptions adapters turn into a "try again" reply.

The use cases raise them (through the Redis client) when Redis is unreachable or every connection is
busy; an adapter answers with ``text`` and, over HTTP, 503 with ``Retry-After: retry_after_seconds``.
"""

from __future__ import annotations

RECONNECTING_TEXT = "The bot is reconnecting, try again in a moment."
BUSY_TEXT = "The bot is busy, try again in a moment."


class BotUnavailable(Exception):
    """The bot is up but cannot answer this request now; the same request may succeed shortly."""

    default_text = RECONNECTING_TEXT

    def __init__(self, detail: str = "", *, retry_after_seconds: int = 2) -> None:
        super().__init__(detail or self.default_text)
        self.text = self.default_text
        self.detail = detail
        self.retry_after_seconds = retry_after_seconds


class BotReconnecting(BotUnavailable):
    """Redis is down or restarting; commands are refused until it answers again."""

    default_text = RECONNECTING_TEXT


class BotBusy(BotUnavailable):
    """Every Redis connection stayed busy for the pool's whole wait: too many requests at once."""

    default_text = BUSY_TEXT
