"""Read-only questions about campaigns and the engine; none of them writes to Redis."""

from __future__ import annotations

from redis.asyncio import Redis
from redis.exceptions import ResponseError

from bot.availability import BotUnavailable
from bot.core import voting
from bot.core.events import Tally
from bot.state.codec import as_str
from bot.state.connection import RedisHealth
from bot.state.workers import WorkerBeats
from bot.usecases.context import UseCaseContext
from engine import api


async def tally(ctx: UseCaseContext, campaign_id: str, round_no: int) -> Tally:
    campaign = await ctx.campaigns.load(campaign_id)
    rnd = voting.find_round(campaign, round_no) if campaign is not None else None
    return {} if rnd is None else await ctx.votes.tally(campaign_id, round_no, rnd.candidates)


async def vote_counts(ctx: UseCaseContext, campaign_id: str, round_no: int) -> dict[int, int]:
    campaign = await ctx.campaigns.load(campaign_id)
    rnd = voting.find_round(campaign, round_no) if campaign is not None else None
    return {} if rnd is None else await ctx.votes.counts(campaign_id, round_no, rnd.candidates)


async def engine_stats(
    redis: Redis, workers: WorkerBeats, now: float, health: RedisHealth | None = None
) -> dict[str, object]:
    """Queue depth per lane, live workers, the engine's counters and Redis's health (the source of
    ``/metrics``). While Redis is away only the health reading is filled in."""
    lanes: dict[str, dict[str, int]] = {}
    live: dict[str, object] = {}
    counters: dict[str, float] = {}
    try:
        for lane in api.LANES:
            lanes[lane] = await lane_stats(redis, api.jobs_stream(lane))
        live = {worker_id: beat.model_dump() for worker_id, beat in (await workers.live(now)).items()}
        for name, raw in (await redis.hgetall(api.STATS_KEY)).items():  # type: ignore[misc]
            counters[as_str(name)] = float(raw)
    except BotUnavailable:
        if health is None:
            raise
        lanes, live, counters = {}, {}, {}
    stats: dict[str, object] = {"lanes": lanes, "workers": live, "counters": counters}
    if health is not None:
        stats["redis"] = health.reading()
    return stats


async def lane_stats(redis: Redis, stream: str) -> dict[str, int]:
    """Length, waiting and pending of one job stream; a stream or group not made yet reads as empty."""
    length = int(await redis.xlen(stream))
    pending = 0
    waiting = length
    try:
        groups = await redis.xinfo_groups(stream)
    except ResponseError:  # no stream yet
        groups = []
    for group in groups:
        if as_str(group["name"]) != api.ENGINE_GROUP:
            continue
        pending = int(group["pending"])
        for consumer in await redis.xinfo_consumers(stream, api.ENGINE_GROUP):
            if as_str(consumer["name"]) == api.RETURNED_CONSUMER:  # read, waiting for any worker
                pending -= int(consumer["pending"])
        waiting = max(0, length - pending)  # handled entries are deleted on ack
    return {"length": length, "waiting": waiting, "pending": pending}
