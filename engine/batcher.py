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
