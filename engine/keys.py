"""Every Redis key, stream, channel and consumer group the engine reads or writes (bot and engine share
the streams; engine.api re-exports the names the bot uses)."""

from __future__ import annotations

LANES: tuple[str, ...] = ("interactive", "scheduled")  # consumed in this order of priority
ENGINE_GROUP = "engine"
BOT_GROUP = "bot"
RESULTS_STREAM = "dl:results"
DEAD_LETTER_STREAM = "dl:jobs:dead"
WORKERS_KEY = "dl:workers"  # hash: worker id -> JSON heartbeat (WorkerBeat)
STATS_KEY = "dl:engine:stats"  # hash of counters: jobs, images, batches, device_ms


def jobs_stream(lane: str) -> str:
    return f"dl:jobs:{lane}"


def progress_channel(campaign_id: str) -> str:
    return f"dl:progress:{campaign_id}"


def cancel_key(job_id: str) -> str:
    """Set (with a TTL) to ask workers to skip or interrupt a job."""
    return f"dl:cancel:{job_id}"


def done_key(job_id: str) -> str:
    """Set when a job's result has been published; a reclaimed job with this marker is only acked."""
    return f"dl:engine:done:{job_id}"


def attempt_key(job_id: str) -> str:
    """The last attempt at a job: which worker ran it and how it ended (for the dead-letter reason)."""
    return f"dl:engine:attempt:{job_id}"


def starts_key(job_id: str) -> str:
    """How many times a worker started running a job (only started runs use up its attempts)."""
    return f"dl:engine:starts:{job_id}"


# Entries read but not run (handed back by a worker, or taken from a dead one) wait under this consumer
# with their idle time set far in the past, so any worker can claim them at once, and only one does.
RETURNED_CONSUMER = "returned"
RETURNED_IDLE_MS = 10**12
RETURNED_MIN_IDLE_MS = 10**11
