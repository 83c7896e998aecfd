"""Engine worker heartbeats (``engine.api.WORKERS_KEY``, written by the workers): read, and forget the silent.

Reading never writes; forgetting a worker that stopped without saying goodbye is a separate step that
deletes a heartbeat only if it is still the silent one it read (a worker that just came back keeps it).
"""

from __future__ import annotations

from redis.asyncio import Redis

from bot.state.codec import as_str
from engine import api

WORKER_GONE_AFTER_SECONDS = 60.0

# KEYS[1] the heartbeat hash; ARGV[1] worker id, ARGV[2] the heartbeat read as silent
_FORGET_IF_UNCHANGED = """
if redis.call('HGET', KEYS[1], ARGV[1]) == ARGV[2] then return redis.call('HDEL', KEYS[1], ARGV[1]) end
return 0
"""


def _live_beat(raw: bytes | str, now: float) -> api.WorkerBeat | None:
    try:
        beat = api.WorkerBeat.model_validate_json(raw)
    except ValueError:
        return None
    return beat if now - beat.at <= WORKER_GONE_AFTER_SECONDS else None


class WorkerBeats:
    def __init__(self, redis: Redis) -> None:
        self.redis = redis
        self._forget = redis.register_script(_FORGET_IF_UNCHANGED)

    async def live(self, now: float) -> dict[str, api.WorkerBeat]:
        """Heartbeats of workers heard from in the last minute, by worker id."""
        beats: dict[str, api.WorkerBeat] = {}
        for worker_id, raw in (await self.redis.hgetall(api.WORKERS_KEY)).items():  # type: ignore[misc]
            beat = _live_beat(raw, now)
            if beat is not None:
                beats[as_str(worker_id)] = beat
        return beats

    async def forget_silent(self, now: float) -> int:
        """Delete the heartbeats of workers silent for over a minute (or unreadable); returns how many."""
        forgotten = 0
        for worker_id, raw in (await self.redis.hgetall(api.WORKERS_KEY)).items():  # type: ignore[misc]
            if _live_beat(raw, now) is None:
                forgotten += int(await self._forget(keys=[api.WORKERS_KEY], args=[worker_id, raw]))
        return forgotten
