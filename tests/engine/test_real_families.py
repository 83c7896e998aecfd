"""Choices that only matter with real weights on a GPU, checked without one: dtypes per family, few-step
presets and scheduler spacing, CPU generators, negative prompts, LoRA names and failures, model cache,
IP-Adapter image encoders and ControlNet sharing."""

from __future__ import annotations

import io
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest
import torch
from PIL import Image

from engine import devices
from engine.api import Job, JobKind, LoraSpec
from engine.catalog import KNOWN_MODELS, guess_family
from engine.loaded_model import adapter_name
from engine.pipeline_runner import DiffusersRunner
from engine.presets import FAMILIES, Resolved, resolve
from engine.registry import ModelRegistry
from engine.runner import JobOutput
from engine.stages.common import Prepared, img2img_steps, run_batch
from engine.stages.edit import outpaint_canvas
from engine.stages.prompts import prompt_kwargs
from engine.tiny import TinyPaths
from engine.tiny_catalog import tiny_specs
from tests.support.blobs import Store


def noise(w: int, h: int, seed: int = 0) -> Image.Image:
    return Image.fromarray(np.random.default_rng(seed).integers(0, 256, (h, w, 3), dtype=np.uint8))


def job(job_id: str, kind: JobKind = JobKind.DRAFT, **kw: Any) -> Job:
    return Job(job_id=job_id, campaign_id="c1", kind=kind, **kw)


# --- dtypes ------------------------------------------------------------------------------------


def test_flux_loads_in_bf16_where_the_others_get_fp16(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(devices, "auto_device", lambda: ("cuda", torch.float16))
    auto = ModelRegistry(device="cuda")
    assert auto.dtype_for("flux") == torch.bfloat16
    assert auto.dtype_for("flux-schnell") == torch.bfloat16
    assert auto.dtype_for("sdxl") == torch.float16
    assert auto.dtype_for("sd15") == torch.float16
    assert ModelRegistry(device="cuda", dtype=torch.float16).dtype_for("flux") == torch.float16  # asked for
    assert ModelRegistry(device="cpu", dtype=torch.float32).dtype_for("flux") == torch.float32


# --- presets and schedulers ------------------------------------------------------------------------


def test_few_step_presets_have_no_guidance_and_turbo_spacing_is_trailing() -> None:
    for name in ("draft", "preview", "final"):
        turbo = resolve(job("t", preset=name), "sdxl-turbo")
        assert (turbo.guidance, turbo.spacing) == (0.0, "trailing")
        schnell = resolve(job("s", preset=name), "flux-schnell")
        assert schnell.guidance == 0.0 and schnell.steps <= 4
    assert KNOWN_MODELS["flux"].family == "flux-schnell"
    assert guess_family("black-forest-labs/FLUX.1-schnell") == "flux-schnell"
    assert guess_family("black-forest-labs/FLUX.1-dev") == "flux"
    assert guess_family("stabilityai/sdxl-turbo") == "sdxl-turbo"


def test_flux_sizes_are_multiples_of_16() -> None:
    for family in ("flux", "flux-schnell"):
        for preset in FAMILIES[family]["presets"]:
            for aspect in ((1, 1), (16, 9), (9, 16), (3, 2), (21, 9)):
                res = resolve(job("f", preset=preset, aspect=aspect), family)
                assert res.width % 16 == 0 and res.height % 16 == 0
        canvas, _ = outpaint_canvas(noise(333, 517), 1.5, None, family)
        assert canvas.width % 16 == 0 and canvas.height % 16 == 0


def test_scheduler_swap_keeps_the_model_config_and_forces_trailing(tiny_registry: ModelRegistry) -> None:
    from diffusers import DPMSolverMultistepScheduler, EulerAncestralDiscreteScheduler, EulerDiscreteScheduler

    original = tiny_registry.pipeline("tiny-sd", "txt2img").scheduler.config
    pipe: Any = SimpleNamespace(
        scheduler=EulerDiscreteScheduler.from_config(original, timestep_spacing="leading")
    )
    tiny_registry.set_scheduler(pipe, "dpm++")
    assert type(pipe.scheduler) is DPMSolverMultistepScheduler
    tiny_registry.set_scheduler(pipe, "euler_a", "trailing")
    assert type(pipe.scheduler) is EulerAncestralDiscreteScheduler
    config = pipe.scheduler.config
    for key in ("beta_start", "beta_end", "beta_schedule", "prediction_type", "num_train_timesteps"):
        assert config[key] == original[key]
    assert config.timestep_spacing == "trailing"
    pipe.scheduler.set_timesteps(1)
    assert int(pipe.scheduler.timesteps[0]) == config.num_train_timesteps - 1  # one step starts at pure noise
    same = pipe.scheduler
    tiny_registry.set_scheduler(pipe, "euler_a", "trailing")
    assert pipe.scheduler is same


# --- one pipeline call ------------------------------------------------------------------------------


class FakePipe:
    def __init__(self) -> None:
        self.calls: list[dict[str, Any]] = []
        self.scheduler = SimpleNamespace(config={"timestep_spacing": "leading"})

    def __call__(self, **kwargs: Any) -> Any:
        self.calls.append(kwargs)
        n = len(kwargs["prompt"])
        return SimpleNamespace(images=np.zeros((n, kwargs["height"], kwargs["width"], 3), dtype=np.float32))


def fake_registry() -> Any:
    return SimpleNamespace(
        set_scheduler=lambda pipe, scheduler, spacing=None: None,
        set_ip_adapter=lambda model, pipe, scale: None,
        compile_mode="off",
    )


def call(items: list[Prepared], res: Resolved, **kwargs: Any) -> dict[str, Any]:
    pipe = FakePipe()
    outs: list[JobOutput] = run_batch(fake_registry(), pipe, items, res, Store().ctx(), [], 0.6, **kwargs)
    assert all(out.error is None for out in outs)
    return pipe.calls[0]


def test_one_cpu_generator_per_image_and_no_negatives_without_guidance() -> None:
    res = Resolved(width=16, height=16, steps=2, guidance=5.0, scheduler="euler", tiny_vae=False)
    items = [Prepared(job("a", seeds=[1, 2]), 16, 16), Prepared(job("b", seeds=[3]), 16, 16)]
    kwargs = call(items, res)
    assert [g.device.type for g in kwargs["generator"]] == ["cpu"] * 3
    assert [g.initial_seed() for g in kwargs["generator"]] == [1, 2, 3]
    no_cfg = Resolved(width=16, height=16, steps=1, guidance=0.0, scheduler="euler_a", tiny_vae=False)
    assert call([Prepared(job("t", negative="blurry"), 16, 16)], no_cfg)["negative_prompt"] is None


def test_img2img_calls_always_run_at_least_one_step() -> None:
    assert img2img_steps(1, 0.6) == 2
    assert img2img_steps(2, 0.4) == 3
    assert img2img_steps(4, 0.4) == 4
    assert img2img_steps(8, None) == 8
    for steps in range(1, 6):
        for strength in (0.05, 0.1, 0.3, 0.33, 0.4, 0.6, 0.9, 1.0):
            assert int(img2img_steps(steps, strength) * strength) >= 1
    res = Resolved(width=16, height=16, steps=1, guidance=0.0, scheduler="euler_a", tiny_vae=False)
    assert (
        call([Prepared(job("v", kind=JobKind.VARIATION), 16, 16)], res, strength=0.6)["num_inference_steps"]
        == 2
    )


def test_one_step_img2img_draft_runs(tiny_registry: ModelRegistry) -> None:
    store = Store()
    init = store.put_image(noise(48, 48))
    out = DiffusersRunner(tiny_registry).run([job("i", init_image=init, steps=1, seeds=[4])], store.ctx())[0]
    assert out.error is None and len(out.images) == 1


# --- negative prompts --------------------------------------------------------------------------------


def pixels(out: JobOutput, i: int = 0) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(out.images[i].png)).convert("RGB")).astype(np.int16)


def test_sdxl_zeroes_only_the_empty_negatives(tiny_registry: ModelRegistry) -> None:
    sdxl = tiny_registry.pipeline("tiny-sdxl", "txt2img")
    kwargs = prompt_kwargs(sdxl, ["a fox", "a boat"], ["", "blurry"], 5.0)
    assert "prompt" not in kwargs and "negative_prompt" not in kwargs
    assert not kwargs["negative_prompt_embeds"][0].any() and kwargs["negative_prompt_embeds"][1].any()
    assert not kwargs["negative_pooled_prompt_embeds"][0].any()
    assert kwargs["negative_pooled_prompt_embeds"][1].any()
    assert prompt_kwargs(sdxl, ["a fox"], ["blurry"], 5.0) == {
        "prompt": ["a fox"],
        "negative_prompt": ["blurry"],
    }
    assert prompt_kwargs(sdxl, ["a fox"], [""], 0.0) == {"prompt": ["a fox"], "negative_prompt": None}
    # no image has a negative: the pipeline zeroes them itself, nothing is encoded only to be zeroed
    assert prompt_kwargs(sdxl, ["a fox", "a boat"], ["", " "], 5.0) == {
        "prompt": ["a fox", "a boat"],
        "negative_prompt": None,
    }
    sd = tiny_registry.pipeline("tiny-sd", "txt2img")
    assert prompt_kwargs(sd, ["a fox"], [""], 5.0) == {"prompt": ["a fox"], "negative_prompt": [""]}


@pytest.mark.parametrize("kind", [JobKind.DRAFT, JobKind.VARIATION])
def test_sdxl_without_a_negative_matches_stock_diffusers(tiny_registry: ModelRegistry, kind: JobKind) -> None:
    store = Store()
    source = noise(48, 48, seed=2)
    extra: dict[str, Any] = {"init_image": store.put_image(source)} if kind == JobKind.VARIATION else {}
    the_job = job("n", kind, model="tiny-sdxl", prompt="a red fox", seeds=[5], **extra)
    runner = DiffusersRunner(tiny_registry)
    out = runner.run([the_job], store.ctx())[0]
    assert out.error is None, out.error
    res = runner.resolved(the_job)
    strength = runner.strength(the_job)
    call_kwargs: dict[str, Any] = {"width": res.width, "height": res.height}
    if kind == JobKind.VARIATION:
        pipe = tiny_registry.pipeline("tiny-sdxl", "img2img")
        call_kwargs["image"] = [source.resize((res.width, res.height), Image.Resampling.LANCZOS)]
        call_kwargs["strength"] = strength
    else:
        pipe = tiny_registry.pipeline("tiny-sdxl", "txt2img", tiny_vae=res.tiny_vae)

    def stock(negative: list[str] | None) -> np.ndarray:
        with torch.inference_mode():
            images = pipe(
                prompt=["a red fox"],
                negative_prompt=negative,
                generator=[torch.Generator("cpu").manual_seed(5)],
                num_inference_steps=img2img_steps(res.steps, strength),
                guidance_scale=res.guidance,
                output_type="np",
                **call_kwargs,
            ).images
        return (np.clip(images[0], 0.0, 1.0) * 255.0).round().astype(np.int16)

    assert np.abs(pixels(out) - stock(None)).max() <= 2
    assert np.abs(pixels(out) - stock([""])).max() > 2  # an empty string is not what stock diffusers uses


def test_sdxl_batch_mixing_negatives_equals_each_alone(tiny_registry: ModelRegistry) -> None:
    store = Store()
    src = store.put_image(noise(48, 48, seed=3))
    runner = DiffusersRunner(tiny_registry)
    for kind, extra in ((JobKind.DRAFT, {}), (JobKind.VARIATION, {"init_image": src})):
        jobs = [
            job("plain", kind, model="tiny-sdxl", prompt="a red fox", seeds=[1, 2], **extra),
            job("neg", kind, model="tiny-sdxl", prompt="a boat", negative="blurry", seeds=[7], **extra),
        ]
        assert len({runner.group_key(j) for j in jobs}) == 1
        batched = runner.run(jobs, store.ctx())
        for j, out in zip(jobs, batched, strict=True):
            alone = runner.run([j], store.ctx())[0]
            assert out.error is None and alone.error is None
            for i in range(len(j.seeds)):
                assert np.abs(pixels(out, i) - pixels(alone, i)).max() <= 2


# --- LoRA, model cache, IP-Adapter, ControlNet -------------------------------------------------------


def test_lora_names_never_collide() -> None:
    assert adapter_name("ink-wash") != adapter_name("ink_wash")
    assert adapter_name("ink-wash").isidentifier()


def fresh_registry(tiny_models: TinyPaths, **kwargs: Any) -> ModelRegistry:
    models, post, loras = tiny_specs(tiny_models)
    return ModelRegistry(
        models, loras={**loras, **kwargs.pop("loras", {})}, post=post, device="cpu", **kwargs
    )


def test_a_broken_lora_fails_its_job_only(tiny_models: TinyPaths, tmp_path: Path) -> None:
    broken = tmp_path / "broken.safetensors"
    broken.write_bytes(b"not a LoRA")
    runner = DiffusersRunner(fresh_registry(tiny_models, loras={"broken": broken}))
    ok, bad = runner.run(
        [job("ok", seeds=[1]), job("bad", seeds=[1], loras=[LoraSpec(name="broken")])], Store().ctx()
    )
    assert ok.error is None and len(ok.images) == 1
    assert bad.error is not None and "broken" in bad.error
    again = runner.run([job("bad2", loras=[LoraSpec(name="broken")])], Store().ctx())[0]
    assert again.error == bad.error


def test_model_cache_drops_the_least_recently_used(tiny_models: TinyPaths) -> None:
    registry = fresh_registry(tiny_models, max_cached_models=2)
    registry.pipeline("tiny-sd", "txt2img")
    registry.pipeline("tiny-sdxl", "txt2img")
    registry.pipeline("tiny-sd", "txt2img")
    registry.pipeline(str(tiny_models.sd), "txt2img")
    assert list(registry._loaded) == ["tiny-sd", str(tiny_models.sd)]


def test_ip_adapter_encoder_is_not_kept_by_derived_pipelines(tiny_models: TinyPaths) -> None:
    registry = fresh_registry(tiny_models)
    runner = DiffusersRunner(registry)
    store = Store()
    source, ref = store.put_image(noise(48, 48)), store.put_image(noise(40, 40, seed=3))
    styled = job("s", JobKind.VARIATION, init_image=source, style_refs=[ref])
    plain = job("p", JobKind.VARIATION, init_image=source)
    assert all(out.error is None for out in runner.run([styled], store.ctx()))
    assert all(out.error is None for out in runner.run([plain], store.ctx()))
    pipes = registry._loaded["tiny-sd"].pipes.values()
    assert all(getattr(pipe, "image_encoder", None) is None for pipe in pipes)
    assert all(
        out.error is None for out in runner.run([styled.model_copy(update={"job_id": "s2"})], store.ctx())
    )
    base = registry._loaded["tiny-sd"].base
    assert registry.pipeline("tiny-sd", "img2img").image_encoder is base.image_encoder


def test_controlnet_is_loaded_once_per_model(tiny_registry: ModelRegistry) -> None:
    draft = tiny_registry.pipeline("tiny-sd", "txt2img", tiny_vae=True, control="canny")
    full = tiny_registry.pipeline("tiny-sd", "txt2img", tiny_vae=False, control="canny")
    assert draft.controlnet is full.controlnet
