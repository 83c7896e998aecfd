"""A round's standing after votes: refreshed once for many votes given at the same time.

Every vote counted must show on the round's tally, status line and quorum check, but reading the whole
tally and saving the campaign once per vote makes a burst of votes contend on the campaign document. A
vote asks for a refresh that starts after it was stored and waits for it; while one refresh of a round
runs, every vote that arrives meanwhile is served by the single next one.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Generic, TypeVar

RoundKey = tuple[str, int]
T = TypeVar("T")


def _retrieve(future: asyncio.Future[T]) -> None:
    if not future.cancelled():
        future.exception()  # every voter may have gone: the failure is theirs, not the loop's


class StandingRefresher:
    """One refresh at a time per round; the waiters that arrive during it share the next one."""

    def __init__(self, refresh: Callable[[str, int], Awaitable[None]]) -> None:
        self._refresh = refresh
        self._next: dict[RoundKey, asyncio.Future[None]] = {}
        self._running: dict[RoundKey, asyncio.Task[None]] = {}

    async def after_vote(self, campaign_id: str, round_no: int) -> None:
        """Return once a refresh that started after this call finished (raising what it raised)."""
        key = (campaign_id, round_no)
        future = self._next.get(key)
        if future is None:
            future = asyncio.get_running_loop().create_future()
            future.add_done_callback(_retrieve)
            self._next[key] = future
        if key not in self._running:
            self._running[key] = asyncio.create_task(self._run(key))
        await asyncio.shield(future)

    async def _run(self, key: RoundKey) -> None:
        try:
            while (future := self._next.pop(key, None)) is not None:
                try:
                    await self._refresh(*key)
                except asyncio.CancelledError:
                    future.cancel()
                    raise
                except Exception as exc:  # handed to every vote waiting on it
                    future.set_exception(exc)
                else:
                    future.set_result(None)
        finally:
            del self._running[key]


class SharedReads(Generic[T]):
    """Reads of the same key made while one is under way share it (a burst of votes on one campaign
    parses its document once, not once per vote). Callers must not change what they get."""

    def __init__(self, read: Callable[[str], Awaitable[T]]) -> None:
        self._read = read
        self._running: dict[str, asyncio.Task[T]] = {}

    async def get(self, key: str) -> T:
        task = self._running.get(key)
        if task is None:
            task = asyncio.create_task(self._read_once(key))
            task.add_done_callback(_retrieve)
            self._running[key] = task
        return await asyncio.shield(task)

    async def _read_once(self, key: str) -> T:
        try:
            return await self._read(key)
        finally:
            del self._running[key]
