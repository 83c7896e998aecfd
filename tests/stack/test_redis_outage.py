"""A killed embedded Redis under a running stack: commands answer "reconnecting" (not a crash), the outage
is logged once, the supervisor restarts Redis from its append-only file, and nothing is lost."""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import time
from pathlib import Path

import pytest

from adapters.web.presenter import WebPresenter
from bot.app import running_stack
from bot.availability import BotReconnecting
from bot.config import Config
from bot.core.model import User
from bot.redis_supervisor import OutageLogFilter, watch_embedded_redis

ANA = User(id="ana", name="ana")


async def test_a_killed_redis_answers_reconnecting_then_comes_back_with_its_data(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    presenter = WebPresenter()
    config = Config(data_dir=tmp_path / "data", workers=0)
    caplog.handler.addFilter(OutageLogFilter())
    caplog.set_level(logging.INFO)
    async with running_stack(config, {"web": presenter}, with_workers=False, supervise_redis=False) as stack:
        service, server, health = stack.service, stack.embedded, stack.redis_health
        assert server is not None and server.pid is not None
        await service.handle_text("web", "general", None, ANA, "/draft a lighthouse --n 2")
        (campaign,) = await service.campaigns_in_channel("web", "general")
        await stack.redis.execute_command("CONFIG", "SET", "appendfsync", "always")
        await service.handle_text("web", "general", None, ANA, "/draft a second lighthouse --n 2")

        os.kill(server.pid, signal.SIGKILL)
        await asyncio.to_thread(lambda: server._proc.wait() if server._proc else None)
        for _ in range(20):
            with pytest.raises(BotReconnecting) as refused:
                await service.handle_text("web", "general", None, ANA, "/status")
        assert refused.value.retry_after_seconds > 0
        assert refused.value.text == "The bot is reconnecting, try again in a moment."
        assert not health.up and health.outages == 1
        stats = await service.engine_stats()  # a health reading still answers during the outage
        redis_reading = stats["redis"]
        assert isinstance(redis_reading, dict)
        assert redis_reading["up"] == 0.0 and redis_reading["outages"] == 1.0

        stop = asyncio.Event()
        supervisor = asyncio.create_task(watch_embedded_redis(server, health, stop, every=0.05))
        try:
            deadline = time.monotonic() + 30
            while health.restarts == 0 and time.monotonic() < deadline:  # noqa: ASYNC110
                await asyncio.sleep(0.05)
            assert health.restarts == 1
            listed = await service.campaigns_in_channel("web", "general")
            assert [c.id for c in listed][-1] == campaign.id and len(listed) == 2
            assert health.up and health.outages == 1
            (reply,) = await service.handle_text("web", "general", None, ANA, "/status")
            assert "2 campaigns" in reply
        finally:
            stop.set()
            await supervisor

    redis_lines = [r for r in caplog.records if r.name == "draftloop.redis"]
    assert [r.levelno for r in redis_lines] == [logging.ERROR, logging.WARNING, logging.WARNING], [
        r.getMessage() for r in redis_lines
    ]
    assert any("restarted it from its append-only file" in r.getMessage() for r in redis_lines)
    outage_tracebacks = [
        r for r in caplog.records if r.exc_info and isinstance(r.exc_info[1], BotReconnecting)
    ]
    assert outage_tracebacks == []


def test_the_outage_filter_drops_only_outage_tracebacks() -> None:
    keep = OutageLogFilter()

    def record(exc: BaseException | None) -> logging.LogRecord:
        info = (type(exc), exc, None) if exc is not None else None
        return logging.LogRecord("x", logging.ERROR, __file__, 1, "failed", (), info)

    try:
        try:
            raise BotReconnecting("refused")
        except BotReconnecting as inner:
            raise RuntimeError("while handling") from inner
    except RuntimeError as wrapped:
        chained: BaseException = wrapped
    assert not keep.filter(record(BotReconnecting("refused")))
    assert not keep.filter(record(chained))
    assert keep.filter(record(ValueError("a real bug")))
    assert keep.filter(record(None))
