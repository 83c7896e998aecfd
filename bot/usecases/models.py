"""Answer a mistyped ``--model`` at once, from the model names live workers advertise."""

from __future__ import annotations

from bot.state.workers import WorkerBeats


async def unknown_model_answer(workers: WorkerBeats, model: str | None, now: float) -> str | None:
    """The refusal for a model name no live worker knows; None when it may be fine.

    Paths and hub ids (anything with a slash) are left to the worker that loads them; with no live
    worker there is nothing to check against, and the job waits in the queue.
    """
    if not model or "/" in model or model.startswith((".", "~")):
        return None
    known = {name for beat in (await workers.live(now)).values() for name in beat.models}
    if not known or model in known:
        return None
    return (
        f"--model: no worker knows '{model}'. Available: {', '.join(sorted(known))} "
        "(or a diffusers folder or hub id). Example: `/draft a fox --model "
        f"{sorted(known)[0]}`"
    )
