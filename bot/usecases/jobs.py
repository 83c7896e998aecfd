"""The engine client: jobs go out on the lane streams, results come back through the "bot" group."""

from __future__ import annotations

import asyncio
import logging
import os
import secrets
import socket
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from typing import Any

from pydantic import ValidationError
from redis.asyncio import Redis
from redis.exceptions import ResponseError

from engine import api
from engine.api import Job, Result

log = logging.getLogger(__name__)

CANCEL_TTL_SECONDS = 86400

ResultHandler = Callable[[Result], Awaitable[None]]


class JobClient:
    def __init__(self, redis: Redis) -> None:
        self.redis = redis

    async def enqueue(self, job: Job) -> str:
        entry_id = await self.redis.xadd(api.jobs_stream(job.lane), api.encode(job))  # type: ignore[arg-type]
        return entry_id.decode() if isinstance(entry_id, bytes) else str(entry_id)

    async def cancel(self, job_ids: Iterable[str]) -> None:
        async with self.redis.pipeline(transaction=False) as pipe:
            for job_id in job_ids:
                pipe.set(api.cancel_key(job_id), "1", ex=CANCEL_TTL_SECONDS)
            await pipe.execute()


def replica_name() -> str:
    return f"{socket.gethostname()}-{os.getpid()}-{secrets.token_hex(3)}"


def _id(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


Entries = list[tuple[str, dict[Any, Any] | None]]


def _stream_entries(reply: Any) -> Entries:
    """Entries of one stream from an XREADGROUP reply (a list under RESP2, a dict under RESP3)."""
    if not reply:
        return []
    streams = list(reply.values()) if isinstance(reply, dict) else [entries for _, entries in reply]
    return [(_id(entry_id), fields) for entries in streams for entry_id, fields in entries]


class ResultConsumer:
    """Reads dl:results through the consumer group; an entry is acknowledged only after its handler succeeded.

    Entries left pending by a replica that died are claimed (XAUTOCLAIM) once idle for ``claim_idle_ms``.
    """

    def __init__(
        self,
        redis: Redis,
        consumer: str | None = None,
        *,
        group: str = api.BOT_GROUP,
        stream: str = api.RESULTS_STREAM,
        block_ms: int = 1000,
        count: int = 16,
        claim_idle_ms: int = 60_000,
    ) -> None:
        self.redis = redis
        self.consumer = consumer or replica_name()
        self.group = group
        self.stream = stream
        self.block_ms = block_ms
        self.count = count
        self.claim_idle_ms = claim_idle_ms
        self._group_ready = False
        self._own_pending_done = False

    async def ensure_group(self) -> None:
        if self._group_ready:
            return
        try:
            await self.redis.xgroup_create(self.stream, self.group, id="0", mkstream=True)
        except ResponseError as exc:
            if "BUSYGROUP" not in str(exc):
                raise
        self._group_ready = True

    async def _claim_stale(self) -> Entries:
        reply: Any = await self.redis.xautoclaim(
            self.stream, self.group, self.consumer, self.claim_idle_ms, start_id="0-0", count=self.count
        )
        return [(_id(entry_id), fields) for entry_id, fields in reply[1]]

    async def _read(self, block: bool) -> Entries:
        if not self._own_pending_done:
            # After a restart under the same name: what this consumer read but never acknowledged.
            entries = _stream_entries(
                await self.redis.xreadgroup(self.group, self.consumer, {self.stream: "0"}, count=self.count)
            )
            if entries:
                return entries
            self._own_pending_done = True
        stale = await self._claim_stale()
        if stale:
            return stale
        reply = await self.redis.xreadgroup(
            self.group,
            self.consumer,
            {self.stream: ">"},
            count=self.count,
            block=self.block_ms if block else None,
        )
        return _stream_entries(reply)

    async def ack(self, entry_id: str) -> None:
        """Acknowledge and delete: the group is the stream's only reader, so a handled entry is garbage."""
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.xack(self.stream, self.group, entry_id)
            pipe.xdel(self.stream, entry_id)
            await pipe.execute()

    async def results(self, stop: asyncio.Event | None = None) -> AsyncIterator[Result]:
        """Yield results; each is acknowledged when the loop body that received it completes.

        If the body raises, the entry stays pending and is delivered again later.
        """
        await self.ensure_group()
        while stop is None or not stop.is_set():
            for entry_id, fields in await self._read(block=True):
                result = self._decode(entry_id, fields)
                if result is None:
                    await self.ack(entry_id)
                    continue
                yield result
                await self.ack(entry_id)

    async def poll(self, handler: ResultHandler, *, block: bool = False) -> int:
        """Handle one batch; returns how many results were handled and acknowledged."""
        await self.ensure_group()
        handled = 0
        for entry_id, fields in await self._read(block=block):
            result = self._decode(entry_id, fields)
            if result is not None:
                await handler(result)
                handled += 1
            await self.ack(entry_id)
        return handled

    async def run(self, handler: ResultHandler, stop: asyncio.Event) -> None:
        while not stop.is_set():
            try:
                await self.poll(handler, block=True)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("result handling failed; the entry stays pending and will be retried")
                await sleep_or_stop(stop, 1.0)

    def _decode(self, entry_id: str, fields: dict[Any, Any] | None) -> Result | None:
        if not fields:  # deleted from the stream while pending
            return None
        try:
            return api.decode_result(fields)
        except (ValidationError, TypeError, ValueError):
            log.error("dropping unreadable result entry %s", entry_id)
            return None


async def sleep_or_stop(stop: asyncio.Event, seconds: float) -> None:
    """Wait ``seconds``, or until ``stop`` is set if that comes first."""
    try:
        await asyncio.wait_for(stop.wait(), timeout=seconds)
    except TimeoutError:
        pass
