"""Status-line edits, coalesced per campaign and kept within each platform's rate limits.

Each campaign's edits run in their own task, never inline in a shared loop: the newest text wins, step
progress is shown at most once every ``pace_seconds`` per campaign, every edit takes a token from the
platform's budget (``bot.ports.EditBudget``, shared by all replicas through Redis), and a platform's
"wait" (``RateLimited``) delays only that campaign's edits. A stage change is tried at once and never
dropped: when it has to wait, its campaign's task shows it (or anything newer) as soon as it may.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Protocol

from redis.asyncio import Redis

from bot.core.model import Campaign
from bot.keyed_locks import KeyedLocks
from bot.ports import Presenter, RateLimited, edit_budget
from bot.state.edit_pacing import EditPacing

log = logging.getLogger(__name__)

DEFAULT_PACE_SECONDS = 3.0
Show = Callable[[Presenter, Campaign, str], Awaitable[None]]
StillWanted = Callable[[], Awaitable[bool]]
_Key = tuple[str, str]  # (platform, campaign id)


class Timebase(Protocol):
    def now(self) -> float: ...

    async def sleep(self, seconds: float) -> None: ...


class WallTime:
    """Unix time, shared by replicas on different machines."""

    def now(self) -> float:
        return time.time()

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(seconds)


@dataclass
class _Wanted:
    presenter: Presenter
    campaign: Campaign
    text: str
    paced: bool  # step progress: waits for the campaign's pace
    still_wanted: StillWanted | None = None


class StatusEdits:
    def __init__(
        self,
        redis: Redis,
        show: Show,
        order: KeyedLocks,
        *,
        pace_seconds: float = DEFAULT_PACE_SECONDS,
        timebase: Timebase | None = None,
    ) -> None:
        self._show = show
        self._order = order  # one edit of a campaign at a time in this replica
        self.pacing = EditPacing(redis)
        self.pace_seconds = pace_seconds
        self.time: Timebase = timebase or WallTime()
        self._wanted: dict[_Key, _Wanted] = {}
        self._tasks: dict[_Key, asyncio.Task[None]] = {}
        self._blocked_until: dict[_Key, float] = {}  # the platform said wait (HTTP 429)

    async def show(self, presenter: Presenter, campaign: Campaign, text: str) -> None:
        """A stage change: shown now when the platform allows, else by the campaign's task."""
        key = (campaign.thread.platform, campaign.id)
        self._wanted.pop(key, None)  # older progress: this text is newer
        wanted = _Wanted(presenter, campaign, text, paced=False)
        wait = self._blocked_until.get(key, 0.0) - self.time.now()
        if wait <= 0:
            wait = await self._take_budget(wanted)
        if wait > 0:
            self._wanted[key] = wanted
            self._start(key)
            return
        await self._edit(key, wanted)

    async def offer(
        self,
        presenter: Presenter,
        campaign: Campaign,
        text: str,
        *,
        still_wanted: StillWanted | None = None,
        wait: bool = False,
    ) -> None:
        """Step progress: the newest text is shown by the campaign's task when the pace allows.
        ``still_wanted`` is asked just before the edit (the job may have finished meanwhile); ``wait``
        returns only once the campaign's task has nothing left to show."""
        key = (campaign.thread.platform, campaign.id)
        self._wanted[key] = _Wanted(presenter, campaign, text, paced=True, still_wanted=still_wanted)
        task = self._start(key)
        if wait:
            await asyncio.shield(task)

    async def settled(self) -> None:
        """Wait until every campaign's task has shown what it had."""
        while self._tasks:
            await asyncio.gather(*[asyncio.shield(t) for t in list(self._tasks.values())])

    async def close(self) -> None:
        tasks = list(self._tasks.values())
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    def __len__(self) -> int:
        """Campaigns with edits still to show."""
        return len(self._tasks)

    # --- internals ------------------------------------------------------------------------------

    def _start(self, key: _Key) -> asyncio.Task[None]:
        task = self._tasks.get(key)
        if task is None or task.done():
            task = asyncio.create_task(self._run(key), name=f"status-edits-{key[0]}-{key[1]}")
            self._tasks[key] = task
        return task

    async def _run(self, key: _Key) -> None:
        try:
            while (wanted := self._wanted.get(key)) is not None:
                try:
                    wait = await self._wait_for(key, wanted)
                    if wait > 0:
                        await self.time.sleep(wait)
                        continue
                    if self._wanted.get(key) is not wanted:
                        continue  # replaced while this one waited for its turn
                    del self._wanted[key]
                    if wanted.still_wanted is None or await wanted.still_wanted():
                        await self._edit(key, wanted)
                except Exception:  # Redis unreachable, say: this text is dropped, a newer one comes
                    log.exception("status edits of campaign %s failed", key[1])
                    if self._wanted.get(key) is wanted:
                        del self._wanted[key]
        finally:
            if self._tasks.get(key) is asyncio.current_task():
                del self._tasks[key]

    async def _wait_for(self, key: _Key, wanted: _Wanted) -> float:
        now = self.time.now()
        blocked = self._blocked_until.get(key, 0.0) - now
        if blocked > 0:
            return blocked
        self._blocked_until.pop(key, None)
        if wanted.paced:
            paced = await self.pacing.pace(key[0], key[1], now, self.pace_seconds)
            if paced > 0:
                return paced
        return await self._take_budget(wanted)

    async def _take_budget(self, wanted: _Wanted) -> float:
        budget = edit_budget(wanted.presenter)
        thread = wanted.campaign.thread
        scope = "all" if budget.scope == "platform" else (thread.thread_id or thread.channel_id)
        return await self.pacing.take(
            thread.platform, scope, self.time.now(), budget.edits, budget.per_seconds
        )

    async def _edit(self, key: _Key, wanted: _Wanted) -> None:
        try:
            async with self._order.hold(key):
                if not wanted.paced:
                    await self.pacing.pace(key[0], key[1], self.time.now(), 0.0)
                await self._show(wanted.presenter, wanted.campaign, wanted.text)
        except RateLimited as exc:
            log.info("status edit of campaign %s rate limited for %.1f s", key[1], exc.retry_after)
            self._blocked_until[key] = self.time.now() + exc.retry_after
            self._wanted.setdefault(key, _Wanted(wanted.presenter, wanted.campaign, wanted.text, paced=False))
            self._start(key)
        except Exception:
            log.exception("status edit on %s failed for campaign %s", key[0], key[1])
