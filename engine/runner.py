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


class StageImage:
    """One output image: PNG bytes, or a way to encode them that the worker calls off the runner thread
    (so the device starts its next batch while the last one is still being compressed)."""

    def __init__(
        self,
        png: bytes | None,
        seed: int,
        width: int,
        height: int,
        *,
        encode: Callable[[], bytes] | None = None,
        score: float | None = None,
    ) -> None:
        if png is None and encode is None:
            raise ValueError("a StageImage needs its PNG bytes or an encoder")
        self._png = png
        self._encode = encode
        self.seed = seed
        self.width = width
        self.height = height
        self.score = score  # the aesthetic hint (drafts), None where not scored

    @property
    def png(self) -> bytes:
        if self._png is None:
            assert self._encode is not None
            self._png = self._encode()
            self._encode = None
        return self._png


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
