"""Prometheus text exposition of the engine's queues, workers and counters (from ``engine_stats``)."""

from __future__ import annotations

from collections.abc import Mapping

_COUNTERS = {
    "jobs": ("draftloop_jobs_total", "jobs finished by the engine"),
    "images": ("draftloop_images_total", "images made by the engine"),
    "batches": ("draftloop_batches_total", "pipeline calls the engine made"),
    "failed": ("draftloop_jobs_failed_total", "jobs that ended in a failed result"),
    "dead": ("draftloop_jobs_dead_total", "jobs moved to the dead-letter stream"),
}

_REDIS = {
    "up": ("draftloop_redis_up", "gauge", "1 while Redis answers, 0 during an outage"),
    "outages": ("draftloop_redis_outages_total", "counter", "times Redis became unreachable"),
    "restarts": ("draftloop_redis_restarts_total", "counter", "restarts of the embedded Redis"),
    "busy_refusals": ("draftloop_redis_busy_total", "counter", "requests refused with every connection busy"),
}


def _family(name: str, kind: str, help_text: str, samples: list[tuple[str, float]]) -> list[str]:
    lines = [f"# HELP {name} {help_text}", f"# TYPE {name} {kind}"]
    lines += [f"{name}{labels} {value:g}" for labels, value in samples]
    return lines


def prometheus_text(stats: Mapping[str, object]) -> str:
    lanes = stats.get("lanes") or {}
    workers = stats.get("workers") or {}
    counters = stats.get("counters") or {}
    if not (isinstance(lanes, Mapping) and isinstance(workers, Mapping) and isinstance(counters, Mapping)):
        raise TypeError("engine stats must map lanes, workers and counters")
    out: list[str] = []
    gauges = (("waiting", "jobs not yet read by a worker"), ("pending", "jobs being worked on"))
    for field, help_text in gauges:
        samples = [(f'{{lane="{lane}"}}', float(info.get(field, 0))) for lane, info in sorted(lanes.items())]
        out += _family(f"draftloop_queue_{field}", "gauge", help_text, samples)
    busy = sum(1 for beat in workers.values() if isinstance(beat, Mapping) and beat.get("busy"))
    out += _family("draftloop_workers", "gauge", "workers with a recent heartbeat", [("", len(workers))])
    out += _family("draftloop_workers_busy", "gauge", "workers running a batch", [("", busy)])
    for key, (name, help_text) in _COUNTERS.items():
        out += _family(name, "counter", help_text, [("", float(counters.get(key, 0)))])
    device_seconds = float(counters.get("device_ms", 0)) / 1000
    out += _family(
        "draftloop_device_seconds_total", "counter", "device time used by jobs", [("", device_seconds)]
    )
    for key, what in (("load_ms", "loading and warming up models"), ("compile_ms", "torch.compile")):
        seconds = float(counters.get(key, 0)) / 1000
        name = f"draftloop_{key.removesuffix('_ms')}_seconds_total"
        out += _family(name, "counter", f"device time spent on {what}, charged to no job", [("", seconds)])
    redis = stats.get("redis")
    if isinstance(redis, Mapping):
        for key, (name, kind, help_text) in _REDIS.items():
            out += _family(name, kind, help_text, [("", float(redis.get(key, 0)))])
    return "\n".join(out) + "\n"
