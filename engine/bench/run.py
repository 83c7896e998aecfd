"""One bench run: build the models, measure each stage's stock and engine paths (and engine+compile with
--compile), price the standard campaign, and report it as a dict (JSON-ready)."""

from __future__ import annotations

import argparse
import tempfile
from dataclasses import asdict
from pathlib import Path
from typing import Any

import torch

from engine.bench.campaign import campaign
from engine.bench.measure import Deadline, EnginePath, Row
from engine.bench.models import DTYPES, build_setup
from engine.bench.stages import STAGES, Plan, bench_compiled, bench_drafts, draft_jobs, noise_png

PATH_ORDER = {"stock": 0, "engine": 1, "engine+compile": 2}
# the full-size x4 upscaler's input on a CPU, in pixels a side: minutes of work become seconds
CPU_UPSCALE_SIDE = 32


def _device(args: argparse.Namespace) -> str:
    return str(args.device or ("cuda" if torch.cuda.is_available() else "cpu"))


def _dtype(args: argparse.Namespace, device: str) -> torch.dtype:
    if args.dtype:
        return DTYPES[args.dtype]
    return torch.float16 if device.startswith("cuda") else torch.float32


def run_bench(args: argparse.Namespace, deadline: Deadline | None = None) -> dict[str, Any]:
    deadline = deadline or Deadline(args.budget)
    device = _device(args)
    dtype = _dtype(args, device)
    repeats = args.repeats or (5 if device.startswith("cuda") else 3)
    skip = {x.strip() for x in args.skip.split(",") if x.strip()}
    compile_stages = {x.strip() for x in args.compile_stages.split(",") if x.strip()}
    upscale_side = CPU_UPSCALE_SIDE if device == "cpu" and args.arch != "tiny" else None
    plan = Plan(args.batch, args.max_batch, args.steps, repeats, args.long_side, deadline, upscale_side)
    not_reached: list[str] = []
    compile_seconds: dict[str, float] = {}
    with tempfile.TemporaryDirectory(prefix="dl-bench-") as tmp:
        s = build_setup(args.arch, device, dtype, Path(tmp), Path(args.models) if args.models else None)
        rows, outputs, draft_path = bench_drafts(s, plan)
        paths: list[EnginePath] = [draft_path]
        made = [img.png for out in outputs for img in out.images]
        res = s.runner.resolved(draft_jobs(s, plan)[0])
        first = s.store.put(made[0] if made else noise_png(res.width, res.height))
        for stage, bench_stage in STAGES.items():
            if stage in skip:
                continue
            if deadline.passed():
                not_reached.append(stage)
                continue
            stage_rows, path = bench_stage(s, plan, first)
            rows += stage_rows
            paths.append(path)
        if args.compile != "off":
            s.registry.enable_compile(args.compile, args.compile_backend)
            for path in paths:
                if compile_stages and path.stage not in compile_stages:
                    continue
                if deadline.passed():
                    not_reached.append(f"{path.stage}:engine+compile")
                    continue
                row, compile_seconds[path.stage] = bench_compiled(s, plan, path)
                rows.append(row)
        name = torch.cuda.get_device_name() if device.startswith("cuda") else "cpu"
        decoder = type(s.registry.pipeline(s.model, "txt2img", tiny_vae=res.tiny_vae).vae).__name__
        report = report_for(args, rows, compile_seconds, not_reached, device, name, dtype, repeats)
    report["draft_size"] = [res.width, res.height]
    report["draft_decoder"] = decoder
    report["weights"] = s.weights
    report["upscale_side"] = upscale_side
    return report


def report_for(args: argparse.Namespace, rows: list[Row], compile_seconds: dict[str, float],
               not_reached: list[str], device: str, device_name: str, dtype: torch.dtype,
               repeats: int) -> dict[str, Any]:  # fmt: skip
    stages = list(dict.fromkeys(row.stage for row in rows))
    rows.sort(key=lambda row: (stages.index(row.stage), PATH_ORDER[row.path]))
    by_stage: dict[str, dict[str, Row]] = {}
    for row in rows:
        by_stage.setdefault(row.stage, {})[row.path] = row
    speedup = {
        stage: paths["stock"].seconds / paths["engine"].seconds
        for stage, paths in by_stage.items()
        if paths["engine"].seconds > 0
    }
    compile_speedup = {
        stage: paths["engine"].seconds / paths["engine+compile"].seconds
        for stage, paths in by_stage.items()
        if "engine+compile" in paths and paths["engine+compile"].seconds > 0
    }
    return {
        "arch": args.arch,
        "device": device,
        "device_name": device_name,
        "dtype": str(dtype).removeprefix("torch."),
        "torch": torch.__version__,
        "drafts": args.batch,
        "steps": args.steps,
        "repeats": repeats,
        "compile": args.compile,
        "compile_backend": args.compile_backend if args.compile != "off" else None,
        "rows": [asdict(r) for r in rows],
        "speedup": speedup,
        "compile_seconds": compile_seconds,
        "compile_speedup": compile_speedup,
        "campaign": campaign({(r.stage, r.path): r.ms_per_image for r in rows}),
        "not_reached": not_reached,  # stages left out because the budget ran out
    }
