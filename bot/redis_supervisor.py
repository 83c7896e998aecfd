"""Keeping the embedded Redis alive under ``draftloop up``, and the log quiet while it is away.

A redis-server that exits (killed, crashed) is started again on the same data dir, so it reloads its
append-only file; the restart is one log line and a count in ``RedisHealth``. While Redis is away every
request fails with ``BotUnavailable``: ``OutageLogFilter`` drops those per-request tracebacks, since
``RedisHealth`` already logged the outage once.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time

from bot.availability import BotUnavailable
from bot.redis_server import EmbeddedRedis, RedisStartError
from bot.state.connection import RedisHealth

log = logging.getLogger("draftloop.redis")

CHECK_EVERY_SECONDS = 0.25
_RETRY_START_SECONDS = (0.5, 1.0, 2.0, 5.0)


async def watch_embedded_redis(
    server: EmbeddedRedis, health: RedisHealth, stop: asyncio.Event, *, every: float = CHECK_EVERY_SECONDS
) -> None:
    """Restart ``server`` whenever its process is gone, until ``stop`` is set."""
    failures = 0
    while not stop.is_set():
        exit_code = server.exit_code
        if exit_code is not None:
            health.mark_down(f"the embedded redis-server exited with {exit_code}")
            started = time.monotonic()
            try:
                await server.astart()
            except RedisStartError as exc:
                failures += 1
                if failures == 1:
                    log.error("restarting the embedded Redis failed (retrying): %s", exc)
                pause = _RETRY_START_SECONDS[min(failures, len(_RETRY_START_SECONDS)) - 1]
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), timeout=pause)
                continue
            failures = 0
            health.note_restart()
            log.warning(
                "the embedded redis-server exited with %s; restarted it from its append-only file in %.1f s "
                "(restart %d)",
                exit_code,
                time.monotonic() - started,
                health.restarts,
            )
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=every)


def _caused_by_outage(exc: BaseException | None) -> bool:
    seen: set[int] = set()
    while exc is not None and id(exc) not in seen:
        if isinstance(exc, BotUnavailable):
            return True
        seen.add(id(exc))
        exc = exc.__cause__ or exc.__context__
    return False


class OutageLogFilter(logging.Filter):
    """Drops log records whose exception is a Redis outage or a full pool: those are logged once, by
    ``RedisHealth``, not once per request or per loop turn."""

    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        if exc is None:
            return True
        if isinstance(exc, BaseExceptionGroup):
            return not all(_caused_by_outage(e) for e in exc.exceptions)
        return not _caused_by_outage(exc)


def install_outage_log_filter() -> None:
    """Attach the filter to every handler of the root logger (call after ``logging.basicConfig``)."""
    for handler in logging.getLogger().handlers:
        if not any(isinstance(f, OutageLogFilter) for f in handler.filters):
            handler.addFilter(OutageLogFilter())
