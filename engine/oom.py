"""Out of device memory: a batch that does not fit is split in halves and each half retried (with the
allocator's cache emptied first), down to single images; only an image that cannot fit alone fails."""

from __future__ import annotations

import gc
import logging
from collections.abc import Callable

import torch

from engine.runner import JobOutput
from engine.stages.common import Prepared

log = logging.getLogger(__name__)

TOO_BIG = (
    "This image does not fit in the GPU's memory even alone; try a smaller size or aspect ratio, or fewer "
    "references."
)


def free_device_memory() -> None:
    gc.collect()
    if torch.cuda.is_available():
        torch.cuda.empty_cache()


def _one_per_image(items: list[Prepared]) -> list[Prepared]:
    """The items with every multi-image job cut into one item per seed (same inputs)."""
    out: list[Prepared] = []
    for item in items:
        if len(item.seeds) == 1:
            out.append(item)
            continue
        for seed in item.seeds:
            job = item.job.model_copy(update={"seeds": [seed]})
            out.append(Prepared(job, item.width, item.height, dict(item.inputs), item.out_size, item.keep))
    return out


def _halves(items: list[Prepared]) -> tuple[list[Prepared], list[Prepared]]:
    if len(items) == 1:
        items = _one_per_image(items)
    total = sum(len(item.seeds) for item in items)
    left: list[Prepared] = []
    count = 0
    for index, item in enumerate(items):
        if count and count + len(item.seeds) > total / 2:
            return left, items[index:]
        left.append(item)
        count += len(item.seeds)
    return left[:-1], left[-1:]


def merge(outputs: list[JobOutput]) -> list[JobOutput]:
    """Outputs of the parts of split jobs joined back into one output per job, in first-seen order (a job
    fails when any of its parts did)."""
    joined: dict[str, JobOutput] = {}
    for out in outputs:
        have = joined.get(out.job_id)
        if have is None:
            joined[out.job_id] = JobOutput(out.job_id, list(out.images), out.error, out.work_units)
            continue
        have.images.extend(out.images)
        have.work_units += out.work_units
        have.error = have.error or out.error
    for out in joined.values():
        if out.error is not None:
            out.images = []
    return list(joined.values())


def run_splitting(
    items: list[Prepared], call: Callable[[list[Prepared]], list[JobOutput]]
) -> list[JobOutput]:
    """``call(items)``; on out-of-memory, the same on each half, recursively (outputs merged per job)."""
    try:
        return call(items)
    except torch.OutOfMemoryError:
        free_device_memory()
        images = sum(len(item.seeds) for item in items)
        if images <= 1:
            log.warning("one %dx%d image does not fit in device memory", items[0].width, items[0].height)
            return [JobOutput(item.job.job_id, error=TOO_BIG) for item in items]
        left, right = _halves(items)
        log.warning(
            "out of device memory with %d images: retrying as %d + %d", images, *map(_count, (left, right))
        )
        return merge(run_splitting(left, call) + run_splitting(right, call))


def _count(items: list[Prepared]) -> int:
    return sum(len(item.seeds) for item in items)
