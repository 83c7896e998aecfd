"""The ``draftloop bench`` command line."""

from __future__ import annotations

import argparse
import json
import sys

import torch

from engine.bench.models import DTYPES
from engine.bench.report import format_suite, format_table
from engine.bench.run import run_bench
from engine.bench.suite import SUITES, run_suite
from engine.compile import DEFAULT_BACKEND, MODES


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="draftloop bench", description="Stock one-at-a-time vs batched engine.")
    p.add_argument("--arch", choices=("tiny", "sd15", "sdxl"), default="tiny")
    p.add_argument(
        "--suite",
        choices=tuple(SUITES),
        default=None,
        help="gpu: sd15 and sdxl, eager and --compile reduce-overhead, within --budget",
    )
    p.add_argument("--budget", type=float, default=None, help="seconds; measuring stops cleanly after them")
    p.add_argument("--device", default=None, help="torch device (default: cuda when available)")
    p.add_argument(
        "--dtype", choices=tuple(DTYPES), default=None, help="default: float16 on CUDA, else float32"
    )
    p.add_argument("--batch", type=int, default=8, help="drafts, one per campaign")
    p.add_argument("--max-batch", type=int, default=32, help="images per engine call")
    p.add_argument("--steps", type=int, default=None, help="override every preset's steps")
    p.add_argument(
        "--long-side",
        type=int,
        default=None,
        help="the drafts' long side in pixels (other presets keep their ratio to it)",
    )
    p.add_argument(
        "--repeats", type=int, default=None, help="timed runs per path (median); default 3 CPU, 5 GPU"
    )
    p.add_argument(
        "--models", default=None, help="folder of the tiny models, built if missing (default: temp)"
    )
    p.add_argument("--skip", default="", help="comma-separated stages to skip: final,refine,upscale")
    p.add_argument("--compile", choices=MODES, default="off", help="add an engine+compile path in this mode")
    p.add_argument(
        "--compile-backend",
        default=DEFAULT_BACKEND,
        help="torch.compile backend for --compile (inductor; aot_eager for a quick CPU check)",
    )
    p.add_argument("--compile-stages", default="", help="comma-separated stages to compile (default: all)")
    p.add_argument("--json", action="store_true", help="print JSON (the table goes to stderr)")
    return p


def bench_main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.suite:
        if args.repeats is None:  # on a CPU the suite only shows that every run works: one timed run
            on_cuda = (args.device or ("cuda" if torch.cuda.is_available() else "cpu")).startswith("cuda")
            args.repeats = 3 if on_cuda else 1
        report = run_suite(args)
        table = format_suite(report)
    else:
        report = run_bench(args)
        table = format_table(report)
    if args.json:
        print(table, file=sys.stderr)
        print(json.dumps(report, indent=2))
    else:
        print(table)
    return 0
