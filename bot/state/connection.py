"""The bot's one Redis client: a bounded, blocking connection pool that says plainly when Redis is away.

Every part of the bot shares one pool of at most ``max_connections`` connections. A request that finds
them all busy waits up to ``wait_seconds`` for one, then fails with ``RedisBusy``. A connection that
cannot reach Redis (refused, reset, still loading its append-only file) fails with
``RedisReconnecting``. Both are ``redis.ConnectionError`` subclasses, so redis-py's own retry and every
existing ``except ConnectionError`` still apply, and ``bot.availability`` subclasses, so adapters can
answer "try again in a moment" without knowing Redis. ``RedisHealth`` records the outages: one log line
when Redis goes away and one when it is back, however many requests failed in between.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from redis.asyncio import BlockingConnectionPool, Redis
from redis.asyncio.connection import AbstractConnection
from redis.asyncio.retry import Retry
from redis.backoff import ExponentialBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from bot.availability import BotBusy, BotReconnecting, BotUnavailable

log = logging.getLogger("draftloop.redis")

DEFAULT_MAX_CONNECTIONS = 64
DEFAULT_WAIT_SECONDS = 20.0
_BUSY_LOG_EVERY_SECONDS = 30.0


class RedisReconnecting(BotReconnecting, RedisConnectionError):
    pass


class RedisBusy(BotBusy, RedisConnectionError):
    pass


@dataclass
class RedisHealth:
    """Whether Redis answers, how often it went away, and how often the supervisor restarted it."""

    up: bool = True
    outages: int = 0
    restarts: int = 0
    busy_refusals: int = 0
    last_error: str = ""
    down_since: float | None = None
    _last_busy_log: float = field(default=-_BUSY_LOG_EVERY_SECONDS, repr=False)

    def mark_down(self, reason: str) -> None:
        self.last_error = reason
        if not self.up:
            return
        self.up = False
        self.outages += 1
        self.down_since = time.monotonic()
        log.error("Redis is unreachable (%s); commands answer 'reconnecting' until it is back", reason)

    def mark_up(self) -> None:
        if self.up:
            return
        down_for = time.monotonic() - (self.down_since or time.monotonic())
        self.up = True
        self.down_since = None
        log.warning("Redis answers again after %.1f s", down_for)

    def note_restart(self) -> None:
        self.restarts += 1

    def note_busy(self) -> None:
        self.busy_refusals += 1
        now = time.monotonic()
        if now - self._last_busy_log >= _BUSY_LOG_EVERY_SECONDS:
            self._last_busy_log = now
            log.warning(
                "every Redis connection stayed busy: refusing requests with 'busy' (%d so far)",
                self.busy_refusals,
            )

    def reading(self) -> dict[str, float]:
        """The numbers a health check or ``/metrics`` shows."""
        down_for = 0.0 if self.down_since is None else time.monotonic() - self.down_since
        return {
            "up": 1.0 if self.up else 0.0,
            "outages": float(self.outages),
            "restarts": float(self.restarts),
            "busy_refusals": float(self.busy_refusals),
            "down_seconds": down_for,
        }


def _reconnecting(health: RedisHealth, exc: Exception, *, down: bool) -> RedisReconnecting:
    reason = str(exc) or type(exc).__name__
    if down:
        health.mark_down(reason)
    return RedisReconnecting(reason)


class _WatchedConnection(AbstractConnection):
    """Turns lost connections into ``RedisReconnecting`` and keeps ``health`` up to date."""

    health: RedisHealth

    async def connect_check_health(self, *args: Any, **kwargs: Any) -> None:
        if self.is_connected:
            return
        try:
            await super().connect_check_health(*args, **kwargs)
        except BotUnavailable:
            raise
        except (RedisConnectionError, RedisTimeoutError) as exc:
            raise _reconnecting(self.health, exc, down=True) from exc
        self.health.mark_up()

    async def send_packed_command(self, *args: Any, **kwargs: Any) -> None:
        with self._talking():
            await super().send_packed_command(*args, **kwargs)

    async def read_response(self, *args: Any, **kwargs: Any) -> Any:
        with self._talking():
            return await super().read_response(*args, **kwargs)

    @contextlib.contextmanager
    def _talking(self) -> Iterator[None]:
        """A lost connection means Redis is down; a timeout on a live one only that it is slow."""
        try:
            yield
        except BotUnavailable:
            raise
        except RedisConnectionError as exc:
            raise _reconnecting(self.health, exc, down=True) from exc
        except RedisTimeoutError as exc:
            raise _reconnecting(self.health, exc, down=False) from exc


def _watched(connection_class: type[AbstractConnection], health: RedisHealth) -> type[AbstractConnection]:
    name = f"Watched{connection_class.__name__}"
    return type(name, (_WatchedConnection, connection_class), {"health": health})


class BotConnectionPool(BlockingConnectionPool):
    """``BlockingConnectionPool`` whose "no connection within the timeout" is ``RedisBusy``."""

    health: RedisHealth

    async def get_connection(self, *args: Any, **options: Any) -> AbstractConnection:
        try:
            return await super().get_connection(*args, **options)
        except BotUnavailable:
            raise
        except RedisConnectionError as exc:
            if isinstance(exc.__cause__, TimeoutError):
                self.health.note_busy()
                raise RedisBusy(f"no Redis connection free within {self.timeout} s") from exc
            raise _reconnecting(self.health, exc, down=True) from exc


def connect_redis(
    url: str,
    health: RedisHealth | None = None,
    *,
    max_connections: int = DEFAULT_MAX_CONNECTIONS,
    wait_seconds: float = DEFAULT_WAIT_SECONDS,
) -> Redis:
    """The client every part of one bot process shares; ``aclose()`` closes its pool too."""
    watched = health if health is not None else RedisHealth()
    pool = BotConnectionPool.from_url(
        url,
        max_connections=max_connections,
        timeout=wait_seconds,
        socket_connect_timeout=2.0,
        socket_timeout=30.0,
        retry=Retry(ExponentialBackoff(cap=0.25, base=0.02), 2),
    )
    pool.health = watched
    pool.connection_class = _watched(pool.connection_class, watched)
    return Redis.from_pool(pool)


def health_of(redis: Redis) -> RedisHealth | None:
    """The health record of a client made by ``connect_redis`` (None for any other client)."""
    pool = redis.connection_pool
    return pool.health if isinstance(pool, BotConnectionPool) else None
