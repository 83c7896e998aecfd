"""``draftloop worker``: one engine worker process (one per GPU).

    draftloop worker [--redis URL] [--data DIR] [--model NAME] [--max-batch 8] [--tiny] [--device DEV]
                     [--compile off|default|reduce-overhead|max-autotune]

Redis comes from ``--redis`` or ``REDIS_URL``. With ``--tiny`` (the default when ``DRAFTLOOP_MODEL`` is
unset) the random-weight offline models are built under ``DATA/models`` and the default model is
``tiny-sd``. ``--compile`` (or ``DRAFTLOOP_COMPILE``; default ``off``) torch.compiles each model's
denoiser and decoder when first loaded and pads batches to buckets (see engine.compile).
SIGTERM / SIGINT finish the batch that is running, then stop.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import signal
from collections.abc import Callable
from pathlib import Path

import redis.asyncio as aioredis

from engine.artifacts import ArtifactStore
from engine.compile import MODES
from engine.runner import BadInput, StageRunner
from engine.worker import Worker, WorkerConfig

log = logging.getLogger("draftloop.worker")

RunnerFactory = Callable[[argparse.Namespace], StageRunner]


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="draftloop worker", description="Run one engine worker.")
    p.add_argument("--redis", default=os.environ.get("REDIS_URL"), help="Redis URL (default: $REDIS_URL)")
    p.add_argument("--data", type=Path, default=Path(os.environ.get("DRAFTLOOP_DATA", "data")))
    p.add_argument("--model", default=os.environ.get("DRAFTLOOP_MODEL"), help="default model name or path")
    p.add_argument(
        "--tiny", action="store_true", default=None, help="build and serve the offline tiny models"
    )
    p.add_argument("--max-batch", type=int, default=8, help="images per pipeline call")
    p.add_argument("--gather-ms", type=int, default=30, help="how long a batch waits for company")
    p.add_argument("--visibility-timeout", type=float, default=60.0, help="seconds before a job is retaken")
    p.add_argument("--max-attempts", type=int, default=3)
    p.add_argument("--device", default=None, help="torch device (default: cuda when available)")
    p.add_argument(
        "--compile",
        choices=MODES,
        default=os.environ.get("DRAFTLOOP_COMPILE", "off"),
        help="torch.compile the denoiser and VAE decoder (default: $DRAFTLOOP_COMPILE or off)",
    )
    p.add_argument("--worker-id", default=None)
    p.add_argument("--log-level", default=os.environ.get("DRAFTLOOP_LOG", "INFO"))
    return p


def _default_device() -> str:
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


def build_runner(args: argparse.Namespace) -> StageRunner:
    """The real stages over diffusers, on the tiny offline models or the named one."""
    from engine.pipeline_runner import DiffusersRunner
    from engine.registry import ModelRegistry

    models_dir = args.data / "models"
    if args.tiny:
        from engine.tiny import build_tiny_models

        registry = ModelRegistry.with_tiny(
            build_tiny_models(models_dir), device=args.device, compile_mode=args.compile
        )
    else:
        allow = os.environ.get("DRAFTLOOP_ALLOW_DOWNLOAD", "") == "1"
        registry = ModelRegistry(device=args.device, allow_download=allow, compile_mode=args.compile)
    registry.spec(args.model)  # an unknown default model stops the worker here, with the reason
    return DiffusersRunner(registry)


async def serve(args: argparse.Namespace, runner: StageRunner) -> None:
    client = aioredis.Redis.from_url(args.redis)
    store = ArtifactStore(args.data / "artifacts")
    config = WorkerConfig(
        max_batch=args.max_batch,
        gather_ms=args.gather_ms,
        visibility_timeout_s=args.visibility_timeout,
        max_attempts=args.max_attempts,
        device=args.device,
        model=args.model,
        models=tuple(getattr(runner, "models", ())),
    )
    worker = Worker(client, runner, store, config, worker_id=args.worker_id)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    log.info(
        "worker %s serving %s on %s (max batch %d, compile %s)",
        worker.worker_id,
        args.model,
        args.device,
        args.max_batch,
        getattr(args, "compile", "off"),
    )
    try:
        await worker.run(stop)
    finally:
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.remove_signal_handler(sig)
        await client.aclose()
    log.info("worker %s stopped", worker.worker_id)


def worker_main(argv: list[str] | None = None, runner_factory: RunnerFactory | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=args.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    if not args.redis:
        log.error("no Redis: set REDIS_URL or pass --redis URL")
        return 2
    if args.compile not in MODES:  # argparse checks choices given on the command line, not defaults
        log.error("DRAFTLOOP_COMPILE=%s: not one of %s", args.compile, ", ".join(MODES))
        return 2
    if args.tiny is None:
        args.tiny = not args.model
    if args.model is None or args.tiny:
        args.model = args.model or "tiny-sd"
    if args.device is None:
        args.device = "cpu" if runner_factory is not None else _default_device()
    args.data.mkdir(parents=True, exist_ok=True)
    try:
        runner = (runner_factory or build_runner)(args)
    except BadInput as exc:
        log.error("%s", exc)
        return 2
    asyncio.run(serve(args, runner))
    return 0
