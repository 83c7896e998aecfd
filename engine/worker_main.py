"""One engine worker process (one per GPU), run from its settings.

The engine doesn't read configuration itself: ``draftloop worker`` (bot.worker_cli) turns the one
configuration every process shares (environment, TOML file, flags) into ``WorkerSettings``.
With ``tiny`` the random-weight offline models are built under ``data_dir/models``. ``compile_mode`` other
than "off" torch.compiles each model's denoiser and decoder when first loaded and pads batches to
buckets (see engine.compile). SIGTERM / SIGINT finish the batch that is running, then stop.
"""

from __future__ import annotations

import asyncio
import logging
import signal
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import redis.asyncio as aioredis

from engine.artifacts import ArtifactStore
from engine.compile import MODES, use_persistent_caches
from engine.devices import CPU_OFFLOAD_MODES, DTYPE_NAMES
from engine.model_catalog_file import CatalogError, catalog_path, load_catalog
from engine.runner import BadInput, StageRunner
from engine.worker import Worker, WorkerConfig

log = logging.getLogger("draftloop.worker")


@dataclass(frozen=True)
class WorkerSettings:
    redis_url: str | None
    data_dir: Path = Path("data")
    model: str | None = None  # unset: the tiny offline model
    tiny: bool | None = None  # None: tiny exactly when no model is named
    max_batch: int = 8
    gather_ms: int = 30
    visibility_timeout_s: float = 10.0  # seconds without a heartbeat before a worker's jobs go to others
    max_attempts: int = 3
    device: str | None = None  # None: cuda when available
    dtype: str = "auto"  # one of engine.devices.DTYPE_NAMES
    cpu_offload: str = "off"  # "model": diffusers' enable_model_cpu_offload
    compile_mode: str = "off"
    allow_download: bool = False
    weights_dir: Path | None = None  # upscaler and face-restorer weights (engine.catalog.default_post_spec)
    models_file: Path | None = None  # the model catalog; unset: data_dir/models.toml if there
    lora_dir: Path | None = None  # every *.safetensors in it is a LoRA (engine.loras)
    sdxl_vae: str | None = None  # an fp16-safe VAE for SDXL models (folder or hub id; engine.sdxl_vae)
    worker_id: str | None = None


RunnerFactory = Callable[[WorkerSettings], StageRunner]


def check_settings(settings: WorkerSettings) -> str | None:
    """Why these settings can't run a worker, or None."""
    if not settings.redis_url:
        return "no Redis: set REDIS_URL or pass --redis URL"
    choices = (
        ("compile mode", settings.compile_mode, MODES),
        ("dtype", settings.dtype, DTYPE_NAMES),
        ("CPU offload", settings.cpu_offload, CPU_OFFLOAD_MODES),
    )
    for what, value, allowed in choices:
        if value not in allowed:
            return f"{what} {value!r} is not one of {', '.join(allowed)}"
    return None


def resolved(settings: WorkerSettings, *, device: Callable[[], str]) -> WorkerSettings:
    """Settings with the tiny choice, the model and the device decided (raises CatalogError)."""
    catalog_default = load_catalog(catalog_path(settings.models_file, settings.data_dir)).default
    tiny = settings.tiny if settings.tiny is not None else not (settings.model or catalog_default)
    model = settings.model or catalog_default or "tiny-sd"
    return replace(settings, tiny=tiny, model=model, device=settings.device or device())


def _default_device() -> str:
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


def build_runner(settings: WorkerSettings) -> StageRunner:
    """The real stages over diffusers, on the tiny offline models or the named one."""
    from engine.catalog import default_post_spec
    from engine.devices import torch_dtype
    from engine.loras import scan_lora_dir
    from engine.pipeline_runner import DiffusersRunner
    from engine.registry import ModelRegistry

    catalog = load_catalog(catalog_path(settings.models_file, settings.data_dir))
    loras = scan_lora_dir(settings.lora_dir)
    options = {
        "device": settings.device,
        "dtype": torch_dtype(settings.dtype),
        "cpu_offload": settings.cpu_offload == "model",
        "compile_mode": settings.compile_mode,
        "sdxl_vae": settings.sdxl_vae,
    }
    if settings.tiny:
        from engine.tiny import build_tiny_models
        from engine.tiny_catalog import tiny_registry
        from engine.tiny_lcm import build_tiny_lcm_lora

        paths = build_tiny_models(settings.data_dir / "models")
        registry = tiny_registry(paths, models=catalog.models, loras=loras, **options)
        speed_loras = {"tiny-sd": build_tiny_lcm_lora(paths.sd, paths.lora.parent / "tiny-lcm.safetensors")}
    else:
        post = default_post_spec(settings.weights_dir)
        registry = ModelRegistry(
            catalog.models, loras=loras, post=post, allow_download=settings.allow_download, **options
        )
        speed_loras = {}
    assert settings.model is not None
    registry.spec(settings.model)  # an unknown default model stops the worker here, with the reason
    return DiffusersRunner(
        registry, default_model=settings.model, max_batch=settings.max_batch, speed_loras=speed_loras
    )


def advertised_by(runner: StageRunner) -> dict[str, Any]:
    """What the heartbeat tells the bot about a registry-backed runner: model families and LoRAs."""
    registry = getattr(runner, "registry", None)
    if registry is None:
        return {}
    return {"families": registry.families(), "loras": tuple(registry.lora_offers())}


async def serve(settings: WorkerSettings, runner: StageRunner) -> None:
    """Run a worker until SIGTERM / SIGINT, with settings checked and resolved (see run_worker)."""
    assert settings.redis_url and settings.device and settings.model, "unresolved worker settings"
    client = aioredis.Redis.from_url(settings.redis_url)
    store = ArtifactStore(settings.data_dir / "artifacts")
    config = WorkerConfig(
        max_batch=settings.max_batch,
        gather_ms=settings.gather_ms,
        visibility_timeout_s=settings.visibility_timeout_s,
        max_attempts=settings.max_attempts,
        device=settings.device,
        model=settings.model,
        models=tuple(getattr(runner, "models", ())),
        **advertised_by(runner),
    )
    worker = Worker(client, runner, store, config, worker_id=settings.worker_id)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    log.info(
        "worker %s serving %s on %s (max batch %d, dtype %s, cpu offload %s, compile %s)",
        worker.worker_id,
        settings.model,
        settings.device,
        settings.max_batch,
        settings.dtype,
        settings.cpu_offload,
        settings.compile_mode,
    )
    try:
        await worker.run(stop)
    finally:
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.remove_signal_handler(sig)
        await client.aclose()
    log.info("worker %s stopped", worker.worker_id)


def run_worker(settings: WorkerSettings, runner_factory: RunnerFactory | None = None) -> int:
    """Serve jobs until SIGTERM / SIGINT: 0 then, 2 when the settings or the default model are wrong.
    A ``runner_factory`` (tests) replaces the diffusers stages and makes the default device the CPU."""
    problem = check_settings(settings)
    if problem is not None:
        log.error("%s", problem)
        return 2
    try:
        settings = resolved(
            settings, device=(lambda: "cpu") if runner_factory is not None else _default_device
        )
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        if settings.compile_mode != "off":
            use_persistent_caches(settings.data_dir)
        runner = (runner_factory or build_runner)(settings)
    except (BadInput, CatalogError) as exc:
        log.error("%s", exc)
        return 2
    asyncio.run(serve(settings, runner))
    return 0
