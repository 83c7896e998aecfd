"""Answer a mistyped ``--model`` at once, from the model names live workers advertise."""

from __future__ import annotations

from redis.asyncio import Redis

from engine import api

WORKER_GONE_AFTER_SECONDS = 60.0


async def live_beats(redis: Redis, now: float) -> dict[bytes | str, api.WorkerBeat]:
    """Heartbeats of workers heard from in the last minute, by worker id."""
    beats: dict[bytes | str, api.WorkerBeat] = {}
    for worker_id, raw in (await redis.hgetall(api.WORKERS_KEY)).items():  # type: ignore[misc]
        try:
            beat = api.WorkerBeat.model_validate_json(raw)
        except ValueError:
            continue
        if now - beat.at <= WORKER_GONE_AFTER_SECONDS:
            beats[worker_id] = beat
    return beats


async def unknown_model_answer(redis: Redis, model: str | None, now: float) -> str | None:
    """The refusal for a model name no live worker knows; None when it may be fine.

    Paths and hub ids (anything with a slash) are left to the worker that loads them; with no live
    worker there is nothing to check against, and the job waits in the queue.
    """
    if not model or "/" in model or model.startswith((".", "~")):
        return None
    known = {name for beat in (await live_beats(redis, now)).values() for name in beat.models}
    if not known or model in known:
        return None
    return (
        f"--model: no worker knows '{model}'. Available: {', '.join(sorted(known))} "
        "(or a diffusers folder or hub id). Example: `/draft a fox --model "
        f"{sorted(known)[0]}`"
    )
