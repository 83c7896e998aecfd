"""Timing, FLOP counting and the report row of one (stage, path) pair."""

from __future__ import annotations

import io
import time
from collections.abc import Callable
from dataclasses import dataclass

import torch
from PIL import Image

from engine.runner import JobOutput


@dataclass
class Row:
    stage: str
    path: str  # "stock" (one call per request), "engine" (batched) or "engine+compile"
    images: int
    calls: int
    seconds: float
    images_per_s: float
    ms_per_image: float
    gflop_per_image: float
    tflops: float  # achieved TFLOP/s over the counted call
    errors: int = 0  # jobs the engine path reported as failed (their time still counts)


@dataclass
class EnginePath:
    """A stage's engine work, kept to run again once compile is on."""

    stage: str
    run: Callable[[], list[JobOutput]]
    images: int
    calls: int
    flops_call: int  # counted on the eager path
    images_per_call: int


class Deadline:
    """The bench's time budget: measuring stops, with what it has, once ``seconds`` have passed."""

    def __init__(self, seconds: float | None) -> None:
        self.end = None if seconds is None else time.monotonic() + seconds

    def passed(self) -> bool:
        return self.end is not None and time.monotonic() >= self.end

    def left(self) -> float | None:
        return None if self.end is None else max(0.0, self.end - time.monotonic())


def sync(device: str) -> None:
    if device.startswith("cuda"):
        torch.cuda.synchronize()


def count_flops(fn: Callable[[], object]) -> int:
    from torch.utils.flop_counter import FlopCounterMode

    with FlopCounterMode(display=False) as counter:
        fn()
    return int(counter.get_total_flops())


def once(fn: Callable[[], object], device: str) -> float:
    sync(device)
    start = time.perf_counter()
    fn()
    sync(device)
    return time.perf_counter() - start


def timed(fn: Callable[[], object], device: str, repeats: int, deadline: Deadline | None = None) -> float:
    """Median seconds of ``repeats`` runs of ``fn`` (at least one; fewer once the deadline has passed)."""
    times = [once(fn, device)]
    while len(times) < repeats and not (deadline and deadline.passed()):
        times.append(once(fn, device))
    return sorted(times)[len(times) // 2]


def make_row(stage: str, path: str, images: int, calls: int, seconds: float, flops_call: int, call_s: float,
             images_per_call: int) -> Row:  # fmt: skip
    return Row(
        stage=stage,
        path=path,
        images=images,
        calls=calls,
        seconds=seconds,
        images_per_s=images / seconds if seconds > 0 else 0.0,
        ms_per_image=1000 * seconds / images if images else 0.0,
        gflop_per_image=flops_call / images_per_call / 1e9,
        tflops=flops_call / call_s / 1e12 if call_s > 0 else 0.0,
    )


def png(img: Image.Image) -> bytes:
    buf = io.BytesIO()
    img.save(buf, format="PNG")
    return buf.getvalue()
