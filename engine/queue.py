"""Redis stream operations for the engine: read, reclaim, publish results, acknowledge, dead-letter.

Everything the worker does to Redis goes through ``JobQueue``. Works with clients created with or
without ``decode_responses``.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from typing import Any

import redis.asyncio as aioredis
from pydantic import ValidationError

from engine import api
from engine.api import Job, Result
from engine.keys import attempt_key, done_key

DONE_TTL_S = 24 * 3600
ATTEMPT_TTL_S = 24 * 3600


def _s(value: bytes | str | None) -> str:
    if value is None:
        return ""
    return value.decode() if isinstance(value, bytes) else value


@dataclass
class Delivery:
    """One stream entry handed to this worker: a fresh read or a reclaimed one."""

    lane: str
    entry_id: str
    raw: str  # the payload as read (kept for the dead-letter stream)
    job: Job | None  # None when the payload could not be parsed
    parse_error: str | None = None
    attempts: int = 1  # delivery count


def parse_entry(lane: str, entry_id: bytes | str, fields: dict[Any, Any] | None) -> Delivery:
    norm = {_s(k): _s(v) for k, v in (fields or {}).items()}
    raw = norm.get(api.PAYLOAD_FIELD, "")
    try:
        job = Job.model_validate_json(raw)
    except (ValidationError, ValueError) as exc:
        reason = f"unreadable job: {_short(exc)}" if raw else "unreadable job: no payload"
        return Delivery(lane, _s(entry_id), raw, None, reason)
    return Delivery(lane, _s(entry_id), raw, job)


def _short(exc: BaseException, limit: int = 200) -> str:
    text = str(exc).splitlines()[0] if str(exc) else ""
    text = f"{type(exc).__name__}: {text}" if text else type(exc).__name__
    return text if len(text) <= limit else text[: limit - 1] + "…"


def short_reason(exc: BaseException, limit: int = 200) -> str:
    """Exception type and first line of its message; never a traceback."""
    return _short(exc, limit)


class JobQueue:
    def __init__(self, redis: aioredis.Redis, consumer: str, lanes: tuple[str, ...] = api.LANES) -> None:
        self.redis = redis
        self.consumer = consumer
        self.lanes = lanes
        self._cursor: dict[str, str] = {lane: "0-0" for lane in lanes}

    async def ensure_groups(self) -> None:
        for lane in self.lanes:
            try:
                await self.redis.xgroup_create(api.jobs_stream(lane), api.ENGINE_GROUP, id="0", mkstream=True)
            except aioredis.ResponseError as exc:
                if "BUSYGROUP" not in str(exc):
                    raise

    async def read(self, lanes: tuple[str, ...], count: int, block_ms: int | None) -> list[Delivery]:
        """New entries from ``lanes``; ``block_ms=None`` returns at once."""
        if count <= 0 or not lanes:
            return []
        streams: dict[Any, Any] = {api.jobs_stream(lane): ">" for lane in lanes}
        reply = await self.redis.xreadgroup(
            api.ENGINE_GROUP, self.consumer, streams, count=count, block=block_ms
        )
        return self._flatten(reply)

    def _flatten(self, reply: Any) -> list[Delivery]:
        by_stream: dict[str, list[Any]] = {}
        if isinstance(reply, dict):  # RESP3
            by_stream = {_s(k): v[0] if v and isinstance(v[0], list) else v for k, v in reply.items()}
        else:
            for stream, entries in reply or []:
                by_stream[_s(stream)] = entries
        out: list[Delivery] = []
        for lane in self.lanes:  # priority order, whatever order the reply had
            for entry_id, fields in by_stream.get(api.jobs_stream(lane), []):
                out.append(parse_entry(lane, entry_id, fields))
        return out

    async def reclaim(self, min_idle_ms: int, count: int) -> list[Delivery]:
        """Entries idle longer than ``min_idle_ms`` in any consumer, now ours, with delivery counts."""
        out: list[Delivery] = []
        for lane in self.lanes:
            stream = api.jobs_stream(lane)
            reply = await self.redis.xautoclaim(
                stream, api.ENGINE_GROUP, self.consumer, min_idle_ms, start_id=self._cursor[lane], count=count
            )
            # a long pending list is walked over several calls, then from the start again
            self._cursor[lane] = _s(reply[0]) or "0-0"
            for entry_id, fields in reply[1]:
                if entry_id is None:
                    continue
                delivery = parse_entry(lane, entry_id, fields)
                delivery.attempts = await self.delivery_count(lane, delivery.entry_id)
                out.append(delivery)
        return out

    async def delivery_count(self, lane: str, entry_id: str) -> int:
        rows = await self.redis.xpending_range(
            api.jobs_stream(lane), api.ENGINE_GROUP, min=entry_id, max=entry_id, count=1
        )
        return int(rows[0]["times_delivered"]) if rows else 1

    async def keep_alive(self, deliveries: list[Delivery]) -> None:
        """Reset the idle time of entries we are still working on, so no one reclaims them."""
        for lane in self.lanes:
            ids = [d.entry_id for d in deliveries if d.lane == lane]
            if not ids:
                continue
            stream = api.jobs_stream(lane)
            mine = await self.redis.xpending_range(
                stream,
                api.ENGINE_GROUP,
                min="-",
                max="+",
                count=max(len(ids), 100),
                consumername=self.consumer,
            )
            still_mine = {_s(row["message_id"]) for row in mine} & set(ids)  # type: ignore[arg-type]
            if still_mine:
                claim: list[Any] = sorted(still_mine)
                await self.redis.xclaim(stream, api.ENGINE_GROUP, self.consumer, 0, claim, justid=True)

    async def ack(self, delivery: Delivery) -> None:
        """Acknowledge and delete: the group is the stream's only reader, so a finished entry is garbage."""
        stream = api.jobs_stream(delivery.lane)
        pipe = self.redis.pipeline(transaction=True)
        pipe.xack(stream, api.ENGINE_GROUP, delivery.entry_id)
        pipe.xdel(stream, delivery.entry_id)
        await pipe.execute()

    async def is_done(self, job_id: str) -> bool:
        return bool(await self.redis.exists(done_key(job_id)))

    async def cancelled(self, job_ids: list[str]) -> set[str]:
        if not job_ids:
            return set()
        pipe = self.redis.pipeline(transaction=False)
        for job_id in job_ids:
            pipe.exists(api.cancel_key(job_id))
        flags = await pipe.execute()
        return {job_id for job_id, flag in zip(job_ids, flags, strict=True) if flag}

    async def note_attempt(self, jobs: list[Job], text: str) -> None:
        pipe = self.redis.pipeline(transaction=False)
        for job in jobs:
            pipe.set(attempt_key(job.job_id), text, ex=ATTEMPT_TTL_S)
        await pipe.execute()

    async def last_attempt(self, job_id: str) -> str | None:
        value = await self.redis.get(attempt_key(job_id))
        return _s(value) if value is not None else None

    async def publish(self, delivery: Delivery, result: Result, device_ms: int) -> bool:
        """Publish a job's result once, mark it done, then ack. False if it had been published already.

        The images must already be in the artifact store. A crash between the result and the ack leaves
        the entry pending; whoever reclaims it finds the done marker and only acks.
        """
        if await self.is_done(result.job_id):
            await self.ack(delivery)
            return False
        await self.redis.xadd(api.RESULTS_STREAM, api.encode(result))  # type: ignore[arg-type]
        await self.redis.set(done_key(result.job_id), self.consumer, ex=DONE_TTL_S)
        await self.ack(delivery)
        pipe = self.redis.pipeline(transaction=False)
        pipe.hincrby(api.STATS_KEY, "jobs", 1)
        pipe.hincrby(api.STATS_KEY, "images", len(result.images))
        pipe.hincrby(api.STATS_KEY, "device_ms", device_ms)
        if not result.ok:
            pipe.hincrby(api.STATS_KEY, "failed", 1)
        pipe.delete(attempt_key(result.job_id))
        await pipe.execute()
        return True

    async def count_batch(self) -> None:
        await self.redis.hincrby(api.STATS_KEY, "batches", 1)

    async def dead_letter(self, delivery: Delivery, error: str) -> None:
        fields = {
            api.PAYLOAD_FIELD: delivery.raw,
            "error": error,
            "lane": delivery.lane,
            "entry_id": delivery.entry_id,
            "attempts": str(delivery.attempts),
            "worker": self.consumer,
            "at": f"{time.time():.3f}",
        }
        await self.redis.xadd(api.DEAD_LETTER_STREAM, fields)  # type: ignore[arg-type]
        await self.redis.hincrby(api.STATS_KEY, "dead", 1)

    async def progress(self, campaign_id: str, progress: api.Progress) -> None:
        await self.redis.publish(api.progress_channel(campaign_id), progress.model_dump_json())

    async def beat(self, beat: api.WorkerBeat) -> None:
        await self.redis.hset(api.WORKERS_KEY, self.consumer, beat.model_dump_json())

    async def leave(self) -> None:
        await self.redis.hdel(api.WORKERS_KEY, self.consumer)


def loose_ids(raw: str) -> tuple[str, str, str] | None:
    """job_id, campaign_id and kind from a payload that failed validation, when they can be read."""
    try:
        data = json.loads(raw)
        job_id, campaign_id, kind = data["job_id"], data["campaign_id"], api.JobKind(data["kind"])
    except (ValueError, KeyError, TypeError):
        return None
    if isinstance(job_id, str) and isinstance(campaign_id, str) and job_id and campaign_id:
        return job_id, campaign_id, str(kind)
    return None
