"""The service's background loops: engine results, round deadlines, stored effects, schedules, progress,
and forgetting the heartbeats of workers that stopped without saying goodbye."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

from pydantic import ValidationError

from bot.service import CampaignService
from bot.state import keys
from bot.usecases.jobs import ResultConsumer, sleep_or_stop
from engine.api import Progress

log = logging.getLogger(__name__)


async def _every(
    stop: asyncio.Event, interval: float, work: Callable[[], Awaitable[object]], failed: str
) -> None:
    """Run ``work`` every ``interval`` seconds until ``stop``; a failure is logged and tried next time."""
    while not stop.is_set():
        try:
            await work()
        except Exception:
            log.exception(failed)
        await sleep_or_stop(stop, interval)


async def result_loop(service: CampaignService, consumer: ResultConsumer, stop: asyncio.Event) -> None:
    await consumer.run(service.apply_result, stop)


async def deadline_loop(service: CampaignService, stop: asyncio.Event, interval: float = 1.0) -> None:
    await _every(
        stop, interval, lambda: service.close_due_rounds(service.clock()), "closing due rounds failed"
    )


async def effects_loop(
    service: CampaignService, stop: asyncio.Event, interval: float = 5.0, older_than: float = 30.0
) -> None:
    """Perform saved effects that the replica which saved them did not perform (it stopped, or a post
    failed)."""
    await _every(
        stop,
        interval,
        lambda: service.deliver_stale_effects(service.clock(), older_than),
        "performing stored effects failed",
    )


async def schedule_loop(service: CampaignService, stop: asyncio.Event, interval: float = 5.0) -> None:
    """Open a campaign thread for each due schedule; a run missed while no replica was up fires once."""
    await _every(
        stop, interval, lambda: service.fire_due_schedules(service.clock()), "firing due schedules failed"
    )


async def silent_workers_loop(service: CampaignService, stop: asyncio.Event, interval: float = 30.0) -> None:
    await _every(
        stop,
        interval,
        lambda: service.forget_silent_workers(service.clock()),
        "forgetting silent workers failed",
    )


async def progress_loop(service: CampaignService, stop: asyncio.Event) -> None:
    while not stop.is_set():
        pubsub = service.redis.pubsub()
        try:
            await pubsub.psubscribe(keys.PROGRESS_PATTERN)
            while not stop.is_set():
                message = await pubsub.get_message(ignore_subscribe_messages=True, timeout=1.0)
                if message is None or message.get("type") != "pmessage":
                    continue
                try:
                    progress = Progress.model_validate_json(message["data"])
                except ValidationError:
                    continue
                await service.relay_progress(progress, wait=False)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("progress relay failed; resubscribing")
            await sleep_or_stop(stop, 1.0)
        finally:
            await pubsub.aclose()


async def run_service_loops(service: CampaignService, consumer: ResultConsumer, stop: asyncio.Event) -> None:
    """Run until ``stop`` is set."""
    try:
        await _run_loops(service, consumer, stop)
    finally:  # the campaigns' status edit tasks stop with the loops
        await service.ctx.effects.status_edits.close()


async def _run_loops(service: CampaignService, consumer: ResultConsumer, stop: asyncio.Event) -> None:
    async with asyncio.TaskGroup() as tasks:
        tasks.create_task(result_loop(service, consumer, stop))
        tasks.create_task(deadline_loop(service, stop))
        tasks.create_task(effects_loop(service, stop))
        tasks.create_task(schedule_loop(service, stop))
        tasks.create_task(silent_workers_loop(service, stop))
        tasks.create_task(progress_loop(service, stop))
