"""The registry's public surface: in-memory pipelines, an explicit post-processing spec, and the dtype and
CPU-offload settings a worker passes to it."""

from __future__ import annotations

from pathlib import Path

import torch
from diffusers import StableDiffusionPipeline

from engine.api import Job, JobKind
from engine.catalog import PostSpec, default_post_spec
from engine.pipeline_runner import DiffusersRunner
from engine.registry import ModelRegistry
from engine.tiny import TinyPaths
from engine.tiny_catalog import tiny_specs
from engine.worker_main import WorkerSettings, build_runner
from tests.support.blobs import Store


def test_an_in_memory_pipeline_is_served_and_never_dropped(tiny_models: TinyPaths) -> None:
    models, post, _ = tiny_specs(tiny_models)
    registry = ModelRegistry(models, post=post, device="cpu", max_cached_models=1)
    pipe = StableDiffusionPipeline.from_pretrained(str(tiny_models.sd), local_files_only=True)
    registry.add_pipeline("memory-sd", pipe, family="tiny-sd")
    assert "memory-sd" in registry.available() and registry.family("memory-sd") == "tiny-sd"
    assert registry.pipeline("memory-sd", "txt2img") is pipe
    registry.pipeline("tiny-sdxl", "txt2img")
    registry.pipeline("tiny-sd", "txt2img")  # drops tiny-sdxl, the one cached model
    assert registry.pipeline("memory-sd", "txt2img") is pipe
    job = Job(job_id="m", campaign_id="c", kind=JobKind.DRAFT, model="memory-sd", seeds=[1])
    (out,) = DiffusersRunner(registry).run([job], Store().ctx())
    assert out.error is None and len(out.images) == 1


def test_a_registry_takes_an_explicit_post_spec(tmp_path: Path) -> None:
    spec = PostSpec(
        esrgan=tmp_path / "x4.pth", esrgan_arch={"scale": 4}, gfpgan=tmp_path / "g.pth", gfpgan_arch={},
        facexlib_root=tmp_path, tile=64,
    )  # fmt: skip
    registry = ModelRegistry(post=spec, device="cpu")
    assert registry.post is spec and registry.post_models.spec is spec
    assert ModelRegistry(device="cpu").post == default_post_spec()
    assert default_post_spec(tmp_path).esrgan == tmp_path / "RealESRGAN_x4plus.pth"


def test_dtype_and_cpu_offload_settings_reach_the_registry(tiny_models: TinyPaths, tmp_path: Path) -> None:
    settings = WorkerSettings(
        "redis://unused", data_dir=tmp_path, model="tiny-sd", tiny=True, device="cpu", dtype="bf16",
        cpu_offload="model",
    )  # fmt: skip
    registry = build_runner(settings).registry  # type: ignore[attr-defined]
    assert registry.dtype == torch.bfloat16 and registry.dtype_for("tiny-sd") == torch.bfloat16
    assert registry.cpu_offload is False  # offloading moves weights to a GPU: none here
    assert registry.pipeline("tiny-sd", "txt2img").unet.dtype == torch.bfloat16
    auto = build_runner(
        WorkerSettings("redis://unused", data_dir=tmp_path, tiny=True, model="tiny-sd", device="cpu")
    )
    assert auto.registry.dtype == torch.float32  # type: ignore[attr-defined]
    assert ModelRegistry(device="cuda", cpu_offload=True).cpu_offload is True
