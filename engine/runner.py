"""The interface between the worker (queues, batching, retries) and the stages (the image work)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

from engine.api import Job


class Cancelled(Exception):
    """Raised inside a pipeline step when every job of the batch was cancelled."""


class BadInput(Exception):
    """A job the engine refuses: the message is shown to the user as the failure reason."""


@dataclass
class StageImage:
    png: bytes
    seed: int
    width: int
    height: int


@dataclass
class JobOutput:
    job_id: str
    images: list[StageImage] = field(default_factory=list)
    error: str | None = None  # set when this job failed (bad input, NaN output...)
    work_units: float = 1.0  # for apportioning a batch's device time (e.g. pixels x steps)


@dataclass
class RunContext:
    """What a stage may ask of the worker while it runs: progress and cancellation, nothing else."""

    load_artifact: Callable[[str], bytes]
    on_step: Callable[[int, int], None] = lambda step, total: None
    is_cancelled: Callable[[], bool] = lambda: False


class StageRunner(Protocol):
    def group_key(self, job: Job) -> tuple[object, ...]:
        """Jobs with equal keys may run in one batch (resolved model, size, steps, scheduler...)."""
        ...

    def run(self, jobs: list[Job], ctx: RunContext) -> list[JobOutput]:
        """Run one batch of compatible jobs; one output per job, in order. Never raises for bad input."""
        ...
