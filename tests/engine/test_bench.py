"""The bench runs the stock one-request-at-a-time path, the batched engine path and, with --compile, the
engine path again with torch.compile on ("aot_eager" on the CPU: inductor's first compile takes minutes
there); on the tiny models in process, and on the full-size architectures at a reduced latent size as
the ``draftloop bench`` command."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from engine.bench import bench_main, format_table
from engine.bench.campaign import campaign
from engine.tiny import TinyPaths

STAGES = ("draft", "final", "refine", "upscale")
DRAFTLOOP = Path(sys.executable).parent / "draftloop"


def _rows(report: dict[str, Any]) -> dict[tuple[str, str], dict[str, Any]]:
    return {(r["stage"], r["path"]): r for r in report["rows"]}


def _assert_campaign_priced_from_rows(report: dict[str, Any]) -> None:
    rows, c = _rows(report), report["campaign"]
    ms = {key: row["ms_per_image"] for key, row in rows.items()}
    assert c["drafted_total_ms"] == pytest.approx(
        30 * ms["draft", "engine"] + 5 * ms["refine", "engine"] + 5 * ms["upscale", "engine"]
    )
    assert c["baseline_total_ms"] == pytest.approx(30 * ms["final", "stock"] + 5 * ms["upscale", "stock"])
    assert c["saving_percent"] == pytest.approx(100 * (1 - c["drafted_total_ms"] / c["baseline_total_ms"]))


def _run_cli(*argv: str, timeout: float) -> tuple[dict[str, Any], str]:
    done = subprocess.run(
        [str(DRAFTLOOP), "bench", *argv, "--json"],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout), done.stderr


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_bench_json_reports_every_path_per_stage(
    tiny_models: TinyPaths, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["--json", "--models", str(tiny_models.root), "--batch", "4", "--device", "cpu", "--repeats", "2"]
    assert bench_main([*argv, "--compile", "default", "--compile-backend", "aot_eager"]) == 0
    captured = capsys.readouterr()
    report = json.loads(captured.out)

    paths = ("stock", "engine", "engine+compile")
    rows = _rows(report)
    assert set(rows) == {(s, p) for s in STAGES for p in paths}
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
    assert set(report["speedup"]) == set(report["compile_speedup"]) == set(STAGES)
    assert report["compile"] == "default" and report["compile_backend"] == "aot_eager"
    assert set(report["compile_seconds"]) == set(STAGES)
    assert all(seconds > 0 for seconds in report["compile_seconds"].values())
    assert report["draft_decoder"] == "AutoencoderTiny" and report["not_reached"] == []
    _assert_campaign_priced_from_rows(report)

    table = format_table(report)
    assert "draft" in table and "engine" in table and "stock" in table and "TFLOP/s" in table
    assert "engine+compile" in table and "compile seconds" in table and "saving" in table
    assert table in captured.err  # --json also prints the table, on stderr


def _assert_full_size_report(report: dict[str, Any], stderr: str) -> None:
    rows = _rows(report)
    assert set(rows) == {(s, p) for s in STAGES for p in ("stock", "engine")}
    for row in rows.values():
        for field in ("seconds", "ms_per_image", "gflop_per_image", "tflops"):
            assert row[field] > 0, (row["stage"], row["path"], field)
    assert rows["draft", "stock"]["calls"] == 2 and rows["draft", "engine"]["calls"] == 1
    assert report["draft_size"] == [64, 64] and report["draft_decoder"] == "AutoencoderTiny"
    # drafts decode with the tiny decoder at the draft size; a final image is larger and decodes in full
    assert rows["final", "stock"]["gflop_per_image"] > 2 * rows["draft", "stock"]["gflop_per_image"]
    _assert_campaign_priced_from_rows(report)
    assert "campaign: 30 drafts -> top 5 -> 5 refines -> 5 upscales" in stderr and "saving" in stderr
    # on a CPU every matrix views one random block and the x4 upscaler gets a small cut of the draft
    assert report["weights"] == "shared" and report["upscale_side"] == 32
    assert rows["upscale", "stock"]["gflop_per_image"] < rows["draft", "stock"]["gflop_per_image"]


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_full_size_sd15_bench_runs_on_the_cpu_at_a_reduced_size() -> None:
    report, stderr = _run_cli(
        "--arch", "sd15", "--long-side", "64", "--steps", "1", "--batch", "2", "--repeats", "1", timeout=880
    )
    assert report["arch"] == "sd15" and report["device"] == "cpu" and report["dtype"] == "float32"
    _assert_full_size_report(report, stderr)


@pytest.mark.slow
@pytest.mark.timeout(1200)
def test_full_size_sdxl_bench_runs_on_the_cpu_at_a_reduced_size() -> None:
    # bfloat16 halves the 3.5 B parameters' memory (about 7 GB instead of 14)
    report, stderr = _run_cli(
        "--arch", "sdxl", "--long-side", "64", "--steps", "1", "--batch", "2", "--repeats", "1",
        "--dtype", "bfloat16", timeout=1180,
    )  # fmt: skip
    assert report["arch"] == "sdxl" and report["dtype"] == "bfloat16"
    _assert_full_size_report(report, stderr)


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_gpu_suite_runs_on_the_cpu_and_stops_at_its_budget() -> None:
    report, stderr = _run_cli(
        "--suite", "gpu", "--long-side", "64", "--steps", "1", "--batch", "2", "--budget", "120",
        "--dtype", "bfloat16", timeout=880,
    )  # fmt: skip
    assert report["suite"] == "gpu" and report["budget_s"] == 120
    labels = [f"{run['arch']}/{run['compile']}" for run in report["runs"]] + report["not_run"]
    assert labels == ["sd15/off", "sdxl/off", "sd15/reduce-overhead", "sdxl/reduce-overhead"]
    first = report["runs"][0]
    assert {(r["stage"], r["path"]) for r in first["rows"]} >= {("draft", "stock"), ("draft", "engine")}
    assert all(r["seconds"] > 0 for run in report["runs"] for r in run["rows"])
    # a run that starts before the budget ends finishes the stage it is in, then stops
    if report["stopped_at_budget"]:
        assert report["not_run"] or any(run["not_reached"] for run in report["runs"])
    assert report["seconds"] < 120 + 600
    assert "draftloop bench suite gpu" in stderr and "sd15/off" in stderr


def test_campaign_is_priced_from_per_image_times_and_needs_every_stage() -> None:
    ms = {
        ("draft", "engine"): 10.0, ("refine", "engine"): 100.0, ("upscale", "engine"): 50.0,
        ("final", "stock"): 400.0, ("upscale", "stock"): 60.0, ("final", "engine"): 380.0,
    }  # fmt: skip
    report = campaign(ms)
    assert report is not None
    assert report["drafted_total_ms"] == 30 * 10 + 5 * 100 + 5 * 50
    assert report["baseline_total_ms"] == 30 * 400 + 5 * 60
    assert report["saving_percent"] == pytest.approx(100 * (1 - 1050 / 12300))
    assert report["engine_baseline_total_ms"] == 30 * 380 + 5 * 50
    del ms["refine", "engine"]
    assert campaign(ms) is None


def test_full_size_configs_match_the_published_parameter_counts() -> None:
    import torch
    from diffusers import AutoencoderKL, UNet2DConditionModel
    from transformers import CLIPTextConfig, CLIPTextModel, CLIPTextModelWithProjection

    from engine.sd_family import CLIP_BIGG, CLIP_L, SD15_UNET, SDXL_UNET, VAE

    def millions(model: Any) -> float:
        return round(sum(p.numel() for p in model.parameters()) / 1e6, 1)

    with torch.device("meta"):  # shapes only: no memory, no time
        assert millions(UNet2DConditionModel(**SD15_UNET)) == 859.5
        assert millions(UNet2DConditionModel(**SDXL_UNET)) == 2567.5
        assert millions(AutoencoderKL(**VAE)) == 83.7
        assert millions(CLIPTextModel(CLIPTextConfig(vocab_size=49408, **CLIP_L))) == 123.1
        assert millions(CLIPTextModelWithProjection(CLIPTextConfig(vocab_size=49408, **CLIP_BIGG))) == 694.7


def test_the_full_size_builder_is_the_tiny_models_builder(tmp_path: Path) -> None:
    from engine.sd_family import SD15, SDXL, TINY_SD, build_draft_decoder, build_sd_pipeline

    def millions(model: Any) -> float:
        return round(sum(p.numel() for p in model.parameters()) / 1e6, 1)

    sd15 = build_sd_pipeline(SD15, tmp_path / "tok", device="meta")
    sdxl = build_sd_pipeline(SDXL, tmp_path / "tok", device="meta")
    assert type(sd15).__name__ == "StableDiffusionPipeline" and millions(sd15.unet) == 859.5
    assert type(sdxl).__name__ == "StableDiffusionXLPipeline" and millions(sdxl.unet) == 2567.5
    assert sdxl.vae.config.scaling_factor == 0.13025 and sd15.vae.config.scaling_factor == 0.18215
    # TAESD: 1.2 M parameters in each of the encoder and decoder (madebyollin/taesd)
    taesd = build_draft_decoder(SD15, device="meta")
    assert type(taesd).__name__ == "AutoencoderTiny" and millions(taesd.decoder) == 1.2
    tiny = build_sd_pipeline(TINY_SD, tmp_path / "tok")
    assert millions(tiny.unet) < 5 and tiny.unet.config.cross_attention_dim == 32


def test_random_and_shared_fills_build_the_same_model_without_its_slow_initialisation(
    tmp_path: Path,
) -> None:
    import torch

    from engine.sd_family import TINY_SDXL, build_sd_pipeline

    def storages(model: Any) -> set[int]:
        return {p.untyped_storage().data_ptr() for p in model.parameters() if p.ndim >= 2}

    seeded = build_sd_pipeline(TINY_SDXL, tmp_path / "tok")
    for weights in ("random", "shared"):
        pipe = build_sd_pipeline(TINY_SDXL, tmp_path / "tok", weights=weights)
        for part in ("unet", "vae", "text_encoder", "text_encoder_2"):
            mine, reference = getattr(pipe, part), getattr(seeded, part)
            assert [(n, p.shape) for n, p in mine.named_parameters()] == [
                (n, p.shape) for n, p in reference.named_parameters()
            ]
            assert all(p.device.type == "cpu" and torch.isfinite(p).all() for p in mine.parameters())
            buffers = dict(reference.named_buffers())  # e.g. CLIP's position ids: built, not filled
            assert all(torch.equal(b, buffers[name]) for name, b in mine.named_buffers())
        assert len(dict(pipe.text_encoder.named_buffers())) == 1
        norm = pipe.unet.conv_norm_out
        assert torch.equal(norm.weight, torch.ones_like(norm.weight)) and not norm.bias.any()
        assert len(storages(pipe.unet)) == (1 if weights == "shared" else len(storages(seeded.unet)))
        pipe.set_progress_bar_config(disable=True)
        with torch.inference_mode():
            image = pipe("a kite", num_inference_steps=1, height=64, width=64, output_type="pt").images
        assert torch.isfinite(image).all()


def test_a_pipeline_added_in_memory_drafts_with_its_tiny_decoder(
    tiny_models: TinyPaths, tmp_path: Path
) -> None:
    import torch
    from diffusers import StableDiffusionPipeline

    from engine.api import Job, JobKind
    from engine.artifacts import ArtifactStore
    from engine.pipeline_runner import DiffusersRunner
    from engine.registry import ModelRegistry
    from engine.runner import RunContext
    from engine.sd_family import TINY_SD, build_draft_decoder
    from engine.tiny_catalog import tiny_specs

    pipe = StableDiffusionPipeline.from_pretrained(str(tiny_models.sd), local_files_only=True)
    decoder = build_draft_decoder(TINY_SD)
    registry = ModelRegistry(post=tiny_specs(tiny_models)[1], device="cpu", dtype=torch.float32)
    registry.add_pipeline("in-memory", pipe, family="tiny-sd", draft_vae=decoder)
    assert registry.pipeline("in-memory", "txt2img", tiny_vae=True).vae is decoder
    assert registry.pipeline("in-memory", "txt2img").vae is pipe.vae
    runner = DiffusersRunner(registry)
    job = Job(
        job_id="m", campaign_id="c", kind=JobKind.DRAFT, model="in-memory", prompt="a kite", seeds=[3, 4]
    )
    store = ArtifactStore(tmp_path)
    (out,) = runner.run([job], RunContext(load_artifact=store.get))
    assert out.error is None and [img.seed for img in out.images] == [3, 4]
    assert out.images[0].png != out.images[1].png


def test_upscale_tiles_follow_the_device() -> None:
    from engine.stages.upscale import CUDA_TILE, tile_size

    assert tile_size("cpu", 512, 512, 32) == 32  # the spec's small tiles off CUDA
    assert tile_size("cuda", 1024, 1024, 32) == 0  # one piece up to a few megapixels
    assert tile_size("cuda", 2048, 2048, 32) == CUDA_TILE
