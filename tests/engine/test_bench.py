"""The bench runs the stock one-request-at-a-time path, the batched engine path and, with --compile, the
engine path again with torch.compile on, on the tiny models ("aot_eager" on the CPU: inductor's first
compile takes minutes there)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from engine.bench import bench_main, format_table
from engine.tiny import TinyPaths


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_bench_json_reports_every_path_per_stage(
    tiny_models: TinyPaths, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["--json", "--models", str(tiny_models.root), "--batch", "4", "--device", "cpu"]
    assert bench_main([*argv, "--compile", "default", "--compile-backend", "aot_eager"]) == 0
    report = json.loads(capsys.readouterr().out)

    stages, paths = ("draft", "refine", "upscale"), ("stock", "engine", "engine+compile")
    rows = {(r["stage"], r["path"]): r for r in report["rows"]}
    assert set(rows) == {(s, p) for s in stages for p in paths}
    for row in rows.values():
        for field in ("seconds", "images_per_s", "ms_per_image", "gflop_per_image", "tflops"):
            assert row[field] > 0, (row["stage"], row["path"], field)
    assert rows["draft", "stock"]["calls"] == 4 and rows["draft", "engine"]["calls"] == 1
    assert rows["draft", "engine+compile"]["calls"] == 1 and rows["draft", "engine+compile"]["images"] == 4
    assert all(row["errors"] == 0 for row in rows.values())
    assert rows["draft", "stock"]["images"] == rows["draft", "engine"]["images"] == 4
    # the same work per image whichever way it runs
    assert rows["draft", "engine"]["gflop_per_image"] == pytest.approx(
        rows["draft", "stock"]["gflop_per_image"], rel=0.05
    )
    assert set(report["speedup"]) == set(report["compile_speedup"]) == set(stages)
    assert report["compile"] == "default" and report["compile_backend"] == "aot_eager"
    assert set(report["compile_seconds"]) == set(stages)
    assert all(seconds > 0 for seconds in report["compile_seconds"].values())

    table = format_table(report)
    assert "draft" in table and "engine" in table and "stock" in table and "TFLOP/s" in table
    assert "engine+compile" in table and "compile seconds" in table


def test_full_size_configs_match_the_published_parameter_counts() -> None:
    import torch
    from diffusers import AutoencoderKL, UNet2DConditionModel
    from transformers import CLIPTextConfig, CLIPTextModel, CLIPTextModelWithProjection

    from engine.bench import CLIP_BIGG, CLIP_L, SD15_UNET, SDXL_UNET, VAE

    def millions(model: Any) -> float:
        return round(sum(p.numel() for p in model.parameters()) / 1e6, 1)

    with torch.device("meta"):  # shapes only: no memory, no time
        assert millions(UNet2DConditionModel(**SD15_UNET)) == 859.5
        assert millions(UNet2DConditionModel(**SDXL_UNET)) == 2567.5
        assert millions(AutoencoderKL(**VAE)) == 83.7
        assert millions(CLIPTextModel(CLIPTextConfig(vocab_size=49408, **CLIP_L))) == 123.1
        assert millions(CLIPTextModelWithProjection(CLIPTextConfig(vocab_size=49408, **CLIP_BIGG))) == 694.7


def test_in_memory_registry_serves_a_pipeline_built_in_memory(tiny_models: TinyPaths, tmp_path: Path) -> None:
    import torch
    from diffusers import StableDiffusionPipeline

    from engine.api import Job, JobKind
    from engine.artifacts import ArtifactStore
    from engine.bench import InMemoryRegistry
    from engine.pipeline_runner import DiffusersRunner
    from engine.registry import tiny_specs
    from engine.runner import RunContext

    pipe = StableDiffusionPipeline.from_pretrained(str(tiny_models.sd), local_files_only=True)
    registry = InMemoryRegistry(
        "in-memory", "tiny-sd", pipe, tiny_specs(tiny_models)[1], "cpu", torch.float32
    )
    runner = DiffusersRunner(registry)
    job = Job(
        job_id="m", campaign_id="c", kind=JobKind.DRAFT, model="in-memory", prompt="a kite", seeds=[3, 4]
    )
    store = ArtifactStore(tmp_path)
    (out,) = runner.run([job], RunContext(load_artifact=store.get))
    assert out.error is None and [img.seed for img in out.images] == [3, 4]
    assert out.images[0].png != out.images[1].png
