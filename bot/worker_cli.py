"""``draftloop worker``: one engine worker, configured like every other process (environment, TOML file)
with flags on top.

    draftloop worker [--redis URL] [--data DIR] [--model NAME] [--tiny] [--max-batch N] [--device DEV]
                     [--dtype auto|fp16|bf16|fp32] [--cpu-offload off|model]
                     [--compile off|default|reduce-overhead|max-autotune] [--visibility-timeout S]
                     [--gather-ms MS] [--max-attempts N] [--worker-id ID] [--log-level LEVEL]
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

from bot.config import (
    COMPILE_MODES,
    CPU_OFFLOAD_MODES,
    DTYPES,
    Config,
    ConfigError,
    check_engine_settings,
    load_config,
    settings_help,
)

if TYPE_CHECKING:
    from engine.worker_main import RunnerFactory, WorkerSettings

# flag -> Config field it overrides
_CONFIG_FLAGS = {
    "redis": "redis_url",
    "data": "data_dir",
    "model": "model",
    "max_batch": "max_batch",
    "dtype": "dtype",
    "cpu_offload": "cpu_offload",
    "compile": "compile_mode",
    "visibility_timeout": "visibility_timeout",
    "log_level": "log_level",
}


def build_parser() -> argparse.ArgumentParser:
    """Flags default to "not given", so only the flags on the command line override the configuration."""
    p = argparse.ArgumentParser(
        prog="draftloop worker",
        description="Run one engine worker.",
        epilog=settings_help(),
        formatter_class=argparse.RawDescriptionHelpFormatter,
        argument_default=argparse.SUPPRESS,
    )
    p.add_argument("--redis", help="Redis URL (default: REDIS_URL)")
    p.add_argument("--data", type=Path, help="data folder (default: DRAFTLOOP_DATA_DIR)")
    p.add_argument("--model", help="default model name or path (default: DRAFTLOOP_MODEL)")
    p.add_argument("--tiny", action="store_true", help="build and serve the offline tiny models")
    p.add_argument("--max-batch", type=int, help="images per pipeline call (default: DRAFTLOOP_MAX_BATCH)")
    p.add_argument(
        "--gather-ms",
        type=int,
        default=30,
        help="when jobs arrive together at an idle worker, how long it waits for the rest of them",
    )
    p.add_argument(
        "--visibility-timeout",
        type=float,
        help="seconds before a job is retaken (DRAFTLOOP_VISIBILITY_TIMEOUT)",
    )
    p.add_argument("--max-attempts", type=int, default=3)
    p.add_argument("--device", default=None, help="torch device (default: cuda when available)")
    p.add_argument("--dtype", choices=DTYPES, help="weights' precision (default: DRAFTLOOP_DTYPE)")
    p.add_argument("--cpu-offload", choices=CPU_OFFLOAD_MODES, help="default: DRAFTLOOP_CPU_OFFLOAD")
    p.add_argument(
        "--compile",
        choices=COMPILE_MODES,
        help="torch.compile the denoiser and VAE decoder (DRAFTLOOP_COMPILE)",
    )
    p.add_argument("--worker-id", default=None)
    p.add_argument("--log-level", help="default: DRAFTLOOP_LOG_LEVEL")
    return p


def worker_settings(config: Config, args: argparse.Namespace) -> WorkerSettings:
    """The worker's settings: the configuration, with the flags given on the command line on top."""
    from engine.worker_main import WorkerSettings

    overrides = {field: getattr(args, flag) for flag, field in _CONFIG_FLAGS.items() if hasattr(args, flag)}
    config = replace(config, **overrides)
    check_engine_settings(config)
    return WorkerSettings(
        redis_url=config.redis_url,
        data_dir=config.data_dir,
        model=config.model,
        tiny=True if getattr(args, "tiny", False) else None,
        max_batch=config.max_batch,
        gather_ms=args.gather_ms,
        visibility_timeout_s=config.visibility_timeout,
        max_attempts=args.max_attempts,
        device=args.device,
        dtype=config.dtype,
        cpu_offload=config.cpu_offload,
        compile_mode=config.compile_mode,
        allow_download=config.allow_download,
        weights_dir=config.weights_dir,
        models_file=config.models_file,
        lora_dir=config.lora_dir,
        sdxl_vae=config.sdxl_vae,
        worker_id=args.worker_id,
    )


def worker_main(
    argv: Sequence[str] | None = None,
    runner_factory: RunnerFactory | None = None,
    environ: dict[str, str] | None = None,
) -> int:
    """Parse the configuration and flags, then run the worker (``runner_factory``: see run_worker)."""
    args = build_parser().parse_args(list(sys.argv[1:] if argv is None else argv))
    try:
        config = load_config(environ, role="worker")
        settings = worker_settings(config, args)
    except ConfigError as exc:
        print(f"draftloop worker: {exc}", file=sys.stderr)
        return 2
    level = getattr(args, "log_level", config.log_level)
    logging.basicConfig(level=level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    from engine.worker_main import run_worker

    return run_worker(settings, runner_factory)
