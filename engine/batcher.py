"""Grouping of read jobs into batches: compatible jobs from any campaign share one runner call."""

from __future__ import annotations

from collections.abc import Callable, Hashable
from dataclasses import dataclass, field
from typing import Generic, TypeVar

from engine.api import Job

T = TypeVar("T")


@dataclass
class Batch(Generic[T]):
    key: tuple[object, ...]
    items: list[T] = field(default_factory=list)
    images: int = 0


def _hashable(key: tuple[object, ...]) -> Hashable:
    try:
        hash(key)
        return key
    except TypeError:
        return repr(key)


def make_batches(
    items: list[T],
    job_of: Callable[[T], Job],
    key_of: Callable[[Job], tuple[object, ...]],
    max_images: int,
) -> list[Batch[T]]:
    """Group ``items`` by ``key_of`` and cut each group into batches of at most ``max_images`` images.

    Items keep their order inside a batch; batches are ordered by the position of their first item, so
    the priority order of ``items`` (interactive before scheduled) carries over. A job with more images
    than ``max_images`` runs alone.
    """
    open_batch: dict[Hashable, Batch[T]] = {}
    batches: list[Batch[T]] = []
    for item in items:
        job = job_of(item)
        key = key_of(job)
        slot = _hashable(key)
        n = max(1, len(job.seeds))
        current = open_batch.get(slot)
        if current is None or (current.items and current.images + n > max_images):
            current = Batch(key=key)
            open_batch[slot] = current
            batches.append(current)
        current.items.append(item)
        current.images += n
    return batches


def fair_order(
    items: list[T], job_of: Callable[[T], Job], lane_rank: Callable[[T], int], served: dict[str, float]
) -> list[T]:
    """``items`` lane by lane in priority order; within a lane one job per user in turn, starting with the
    user served longest ago (never served first, then whoever has the oldest job), so one user's backlog
    does not hold back everyone else's first images."""
    ordered: list[T] = []
    for rank in sorted({lane_rank(item) for item in items}):
        queues: dict[str, list[T]] = {}
        for item in items:
            if lane_rank(item) == rank:
                queues.setdefault(user_of(job_of(item)), []).append(item)
        users = sorted(queues, key=lambda user: served.get(user, float("-inf")))  # stable: oldest job first
        depth = max(len(q) for q in queues.values())
        for turn in range(depth):
            ordered.extend(queues[user][turn] for user in users if turn < len(queues[user]))
    return ordered


def user_of(job: Job) -> str:
    """Whose work a job is, for fair turns: the person who asked, else the campaign."""
    return job.user or job.campaign_id


def next_batch(
    ordered: list[T], job_of: Callable[[T], Job], key_of: Callable[[Job], tuple[object, ...]], max_images: int
) -> tuple[Batch[T], list[T]]:
    """The batch a worker runs next: the first item of ``ordered`` and the compatible items after it that
    fit in ``max_images`` images (a job larger than that runs alone); and everything else, in order."""
    head_key = key_of(job_of(ordered[0]))
    slot = _hashable(head_key)
    batch: Batch[T] = Batch(key=head_key)
    rest: list[T] = []
    for item in ordered:
        job = job_of(item)
        n = max(1, len(job.seeds))
        fits = not batch.items or batch.images + n <= max_images
        if fits and _hashable(key_of(job)) == slot:
            batch.items.append(item)
            batch.images += n
        else:
            rest.append(item)
    return batch, rest
