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
from engine.keys import (
    RETURNED_CONSUMER,
    RETURNED_IDLE_MS,
    RETURNED_MIN_IDLE_MS,
    attempt_key,
    done_key,
    starts_key,
)

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
    attempts: int = 0  # times a worker started running it (set when it starts)


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

    async def read_new(self, count: int, block_ms: int | None) -> int:
        """Move up to ``count`` new entries into the shared waiting pool (lanes in priority order, or any
        lane when blocking); how many arrived. ``block_ms=None`` returns at once."""
        if count <= 0:
            return 0
        batches = [self.lanes] if block_ms is not None else [(lane,) for lane in self.lanes]
        arrived: list[Delivery] = []
        for lanes in batches:
            room = count - len(arrived)
            if room <= 0:
                break
            streams: dict[Any, Any] = {api.jobs_stream(lane): ">" for lane in lanes}
            reply = await self.redis.xreadgroup(
                api.ENGINE_GROUP, RETURNED_CONSUMER, streams, count=room, block=block_ms
            )
            arrived += self._flatten(reply)
        await self._move(arrived, min_idle_ms=0)
        return len(arrived)

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

    async def waiting(self, count: int) -> list[Delivery]:
        """Up to ``count`` jobs waiting in the pool, oldest first lane by lane, read without taking them."""
        out: list[Delivery] = []
        for lane in self.lanes:
            room = count - len(out)
            if room <= 0:
                break
            stream = api.jobs_stream(lane)
            rows = await self.redis.xpending_range(
                stream,
                api.ENGINE_GROUP,
                "-",
                "+",
                room,
                consumername=RETURNED_CONSUMER,
                idle=RETURNED_MIN_IDLE_MS,
            )
            ids = [_s(row["message_id"]) for row in rows]  # type: ignore[arg-type]
            if not ids:
                continue
            pipe = self.redis.pipeline(transaction=False)
            for entry_id in ids:
                pipe.xrange(stream, entry_id, entry_id, count=1)
            gone: list[Any] = []
            for entry_id, found in zip(ids, await pipe.execute(), strict=True):
                if found:
                    out.append(parse_entry(lane, entry_id, found[0][1]))
                else:
                    gone.append(entry_id)  # deleted from the stream while pending: nothing to run
            if gone:
                await self.redis.xack(stream, api.ENGINE_GROUP, *gone)
        return out

    async def claim(self, deliveries: list[Delivery]) -> list[Delivery]:
        """Take waiting entries for this worker; those another worker took first are left out."""
        won: set[tuple[str, str]] = set()
        for lane in self.lanes:
            ids: list[Any] = [d.entry_id for d in deliveries if d.lane == lane]
            if ids:
                got: Any = await self.redis.xclaim(
                    api.jobs_stream(lane),
                    api.ENGINE_GROUP,
                    self.consumer,
                    RETURNED_MIN_IDLE_MS,
                    ids,
                    justid=True,
                )
                won.update((lane, _s(entry_id)) for entry_id in got)
        return [d for d in deliveries if (d.lane, d.entry_id) in won]

    async def hand_back(self, deliveries: list[Delivery]) -> None:
        """Give entries this worker took but will not run back to the pool, for any worker."""
        await self._move(deliveries, min_idle_ms=0)

    async def _move(self, deliveries: list[Delivery], min_idle_ms: int) -> int:
        moved = 0
        for lane in self.lanes:
            ids: list[Any] = [d.entry_id for d in deliveries if d.lane == lane]
            if ids:
                got = await self.redis.xclaim(
                    api.jobs_stream(lane),
                    api.ENGINE_GROUP,
                    RETURNED_CONSUMER,
                    min_idle_ms,
                    ids,
                    idle=RETURNED_IDLE_MS,
                    justid=True,
                )
                moved += len(got)
        return moved

    async def live_workers(self, now: float, silent_after_s: float) -> set[str]:
        """Workers whose heartbeat is more recent than ``silent_after_s``."""
        raw = await self.redis.hgetall(api.WORKERS_KEY)
        live: set[str] = set()
        for name, value in raw.items():
            try:
                beat = api.WorkerBeat.model_validate_json(value)
            except (ValidationError, ValueError):
                continue
            if now - beat.at < silent_after_s:
                live.add(_s(name))
        return live

    async def reclaim_silent(self, live: set[str], silent_after_ms: int, page: int = 100) -> int:
        """Hand back the entries of every consumer that is not ``live`` and has not touched them for
        ``silent_after_ms`` (a worker whose heartbeat stopped); how many entries moved."""
        moved = 0
        for lane in self.lanes:
            stream = api.jobs_stream(lane)
            consumers = await self.redis.xinfo_consumers(stream, api.ENGINE_GROUP)
            for info in consumers:
                name = _s(info["name"])
                if name in live or name == self.consumer or not int(info["pending"]):
                    continue
                cursor = "-"
                while True:
                    rows = await self.redis.xpending_range(
                        stream, api.ENGINE_GROUP, cursor, "+", page, consumername=name, idle=silent_after_ms
                    )
                    stuck = [  # the pool's own entries only when a worker died before marking them waiting
                        Delivery(lane, _s(row["message_id"]), "", None)  # type: ignore[arg-type]
                        for row in rows
                        if name != RETURNED_CONSUMER
                        or int(row["time_since_delivered"]) < RETURNED_MIN_IDLE_MS
                    ]
                    moved += await self._move(stuck, min_idle_ms=silent_after_ms) if stuck else 0
                    if len(rows) < page:
                        break
                    cursor = "(" + _s(rows[-1]["message_id"])  # type: ignore[arg-type]
        return moved

    async def forget_consumer_if_idle(self, name: str) -> None:
        """Drop a consumer with nothing pending from the group (a stopped worker's name)."""
        for lane in self.lanes:
            stream = api.jobs_stream(lane)
            for info in await self.redis.xinfo_consumers(stream, api.ENGINE_GROUP):
                if _s(info["name"]) == name and not int(info["pending"]):
                    await self.redis.xgroup_delconsumer(stream, api.ENGINE_GROUP, name)

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

    async def done(self, job_ids: list[str]) -> set[str]:
        """Which of these jobs already had their result published."""
        if not job_ids:
            return set()
        pipe = self.redis.pipeline(transaction=False)
        for job_id in job_ids:
            pipe.exists(done_key(job_id))
        flags = await pipe.execute()
        return {job_id for job_id, flag in zip(job_ids, flags, strict=True) if flag}

    async def cancelled(self, job_ids: list[str]) -> set[str]:
        if not job_ids:
            return set()
        pipe = self.redis.pipeline(transaction=False)
        for job_id in job_ids:
            pipe.exists(api.cancel_key(job_id))
        flags = await pipe.execute()
        return {job_id for job_id, flag in zip(job_ids, flags, strict=True) if flag}

    async def starts(self, job_ids: list[str]) -> dict[str, int]:
        """How many times each job was started (by any worker)."""
        if not job_ids:
            return {}
        values = await self.redis.mget([starts_key(job_id) for job_id in job_ids])
        return {job_id: int(v or 0) for job_id, v in zip(job_ids, values, strict=True)}

    async def note_start(self, deliveries: list[Delivery], text: str) -> None:
        """Count one more started run of each job; ``text`` explains the attempt if this run never ends."""
        pipe = self.redis.pipeline(transaction=False)
        for d in deliveries:
            job_id = d.job.job_id if d.job is not None else d.entry_id
            pipe.incr(starts_key(job_id))
            pipe.expire(starts_key(job_id), ATTEMPT_TTL_S)
            pipe.set(attempt_key(job_id), text, ex=ATTEMPT_TTL_S)
        replies = await pipe.execute()
        for d, count in zip(deliveries, replies[0::3], strict=True):
            d.attempts = int(count)

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
        pipe.delete(attempt_key(result.job_id), starts_key(result.job_id))
        await pipe.execute()
        return True

    async def count_batch(self) -> None:
        await self.redis.hincrby(api.STATS_KEY, "batches", 1)

    async def count_overhead(self, load_s: float, compile_s: float) -> None:
        """Device time no job is charged for: loading models (and warming them up), compiling them."""
        pipe = self.redis.pipeline(transaction=False)
        pipe.hincrby(api.STATS_KEY, "load_ms", round(load_s * 1000))
        pipe.hincrby(api.STATS_KEY, "compile_ms", round(compile_s * 1000))
        await pipe.execute()

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
