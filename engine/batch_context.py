"""Progress and cancellation for one running batch: the runner calls these from its own thread, and they
reach Redis through the worker's event loop (progress at most every ``progress_interval_s``, the cancel
markers at most every ``cancel_poll_s``)."""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Callable, Coroutine
from typing import Any

from engine import api
from engine.api import Job
from engine.queue import JobQueue

log = logging.getLogger(__name__)

PublishProgress = Callable[[str, api.Progress], Coroutine[Any, Any, None]]


class BatchContext:
    def __init__(
        self,
        jobs: list[Job],
        loop: asyncio.AbstractEventLoop,
        queue: JobQueue,
        publish_progress: PublishProgress,
        *,
        progress_interval_s: float,
        cancel_poll_s: float,
    ) -> None:
        self._jobs = jobs
        self._ids = [job.job_id for job in jobs]
        self._loop = loop
        self._queue = queue
        self._publish_progress = publish_progress
        self._progress_interval_s = progress_interval_s
        self._cancel_poll_s = cancel_poll_s
        self._lock = threading.Lock()
        self._last_progress: float | None = None
        self._last_check: float | None = None
        self._cancelled = False
        self._tasks: set[asyncio.Task[None]] = set()
        self.steps_seen = 0

    def on_step(self, step: int, total: int) -> None:
        now = time.monotonic()
        with self._lock:
            self.steps_seen += 1
            if self._last_progress is not None and now - self._last_progress < self._progress_interval_s:
                return
            self._last_progress = now
        self._loop.call_soon_threadsafe(self._spawn_progress, step, total)

    def _spawn_progress(self, step: int, total: int) -> None:
        for job in self._jobs:
            msg = api.Progress(job_id=job.job_id, campaign_id=job.campaign_id, step=step, total=total)
            task = self._loop.create_task(self._publish_progress(job.campaign_id, msg))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    def is_cancelled(self) -> bool:
        now = time.monotonic()
        with self._lock:
            if self._cancelled:
                return True
            if self._last_check is not None and now - self._last_check < self._cancel_poll_s:
                return False
            self._last_check = now
        future = asyncio.run_coroutine_threadsafe(self._queue.cancelled(self._ids), self._loop)
        try:
            found = future.result(timeout=10)
        except Exception:  # Redis trouble never stops a batch
            log.warning("cancel check failed", exc_info=True)
            return False
        with self._lock:
            self._cancelled = len(found) == len(self._ids)
            return self._cancelled

    async def drain(self) -> None:
        await asyncio.sleep(0)  # let progress callbacks queued by the last steps create their tasks
        if self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)
