"""``draftloop bench --suite gpu``: SD 1.5 and SDXL at full size, eager then with CUDA graphs
(``--compile reduce-overhead``, on the batched drafts), each priced on the standard campaign, within one
time budget. Eager runs come first, so a budget cut leaves the compiled runs out, never the baselines."""

from __future__ import annotations

import argparse
import copy
import gc
import time
from typing import Any

import torch

from engine.bench.measure import Deadline
from engine.bench.run import run_bench

SUITES: dict[str, tuple[tuple[str, str], ...]] = {
    "gpu": (("sd15", "off"), ("sdxl", "off"), ("sd15", "reduce-overhead"), ("sdxl", "reduce-overhead")),
}
COMPILED_STAGES = "draft"  # where CUDA graphs matter most: the batched, few-step calls
# seconds a run needs left in the budget to start: a compiled run's first call (inductor, CUDA graphs
# recording) cannot stop halfway, so it starts only with room to finish
MIN_SECONDS_TO_START = {"off": 30.0, "reduce-overhead": 150.0}


def _free_device_memory() -> None:
    gc.collect()
    if torch.cuda.is_available():
        torch.cuda.empty_cache()


def run_suite(args: argparse.Namespace) -> dict[str, Any]:
    deadline = Deadline(args.budget)
    start = time.monotonic()
    runs: list[dict[str, Any]] = []
    not_run: list[str] = []
    for arch, mode in SUITES[args.suite]:
        label = f"{arch}/{mode}"
        left = deadline.left()
        if left is not None and left < MIN_SECONDS_TO_START.get(mode, 150.0):
            not_run.append(label)
            continue
        run_args = copy.copy(args)
        run_args.arch, run_args.compile = arch, mode
        if mode != "off":  # the eager run of this arch already measured the other stages
            run_args.skip = "final,refine,upscale"
            run_args.compile_stages = COMPILED_STAGES
        runs.append(run_bench(run_args, deadline))
        _free_device_memory()
    device = runs[0]["device"] if runs else "cpu"
    return {
        "suite": args.suite,
        "device": device,
        "device_name": runs[0]["device_name"] if runs else "cpu",
        "budget_s": args.budget,
        "seconds": time.monotonic() - start,
        "stopped_at_budget": bool(not_run) or any(run["not_reached"] for run in runs),
        "runs": runs,
        "not_run": not_run,
    }
