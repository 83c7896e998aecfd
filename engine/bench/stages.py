"""Each stage's work run the stock way (one diffusers / RealESRGANer call per request) and the engine's
way (DiffusersRunner on batches of compatible jobs): drafts, a final-quality image, a refine, an upscale."""

from __future__ import annotations

import contextlib
import io
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from PIL import Image

from engine.api import Job, JobKind
from engine.batcher import make_batches
from engine.bench.measure import Deadline, EnginePath, Row, count_flops, make_row, once, png, timed
from engine.bench.models import Setup
from engine.presets import FAMILIES
from engine.runner import JobOutput, RunContext
from engine.stages.common import img2img_steps

PROMPTS = (
    "a lighthouse at dusk, oil painting",
    "a red kite over green hills",
    "a robot watering plants, studio photo",
    "a bowl of ramen, top view",
    "a fox in the snow, watercolor",
    "a city skyline at night, neon",
    "an old map of an island",
    "a glass teapot on a wooden table",
)


@dataclass(frozen=True)
class Plan:
    batch: int  # drafts, one per campaign
    max_batch: int
    steps: int | None  # overrides every preset's steps
    repeats: int
    long_side: int | None  # the drafts' long side; other presets keep their ratio to it
    deadline: Deadline
    upscale_side: int | None = None  # the upscale's input: the draft, or its centre cut to this side


def size_fields(s: Setup, plan: Plan, preset: str) -> dict[str, int]:
    """Explicit width and height for ``preset`` when --long-side scales the work, else none."""
    if plan.long_side is None:
        return {}
    family = FAMILIES[s.registry.family(s.model)]
    presets, multiple = family["presets"], family["multiple"]
    scaled = plan.long_side * presets[preset]["long_side"] / presets["draft"]["long_side"]
    # up to the family's multiple, so that a larger preset never rounds back down to the draft's size
    side = math.ceil(scaled / multiple - 1e-9) * multiple if scaled > plan.long_side else round(scaled)
    return {"width": side, "height": side}


def draft_jobs(s: Setup, plan: Plan) -> list[Job]:
    return [
        Job(job_id=f"draft-{i}", campaign_id=f"campaign-{i}", kind=JobKind.DRAFT, model=s.model,
            prompt=PROMPTS[i % len(PROMPTS)], seeds=[1000 + i], steps=plan.steps,
            **size_fields(s, plan, "draft"))
        for i in range(plan.batch)
    ]  # fmt: skip


def noise_png(width: int, height: int) -> bytes:
    rng = np.random.default_rng(0)
    return png(Image.fromarray(rng.integers(0, 256, size=(height, width, 3), dtype=np.uint8)))


def _txt2img_stock(s: Setup, job: Job) -> Callable[[], bytes]:
    """One stock diffusers call for ``job`` (the pipeline and decoder its preset asks for)."""
    res = s.runner.resolved(job)
    pipe = s.registry.pipeline(s.model, "txt2img", tiny_vae=res.tiny_vae)

    def call() -> bytes:
        s.registry.set_scheduler(pipe, res.scheduler, res.spacing)
        with torch.inference_mode():
            out = pipe(
                job.prompt, generator=torch.Generator("cpu").manual_seed(job.seeds[0]), width=res.width,
                height=res.height, num_inference_steps=res.steps, guidance_scale=res.guidance,
            )  # fmt: skip
        return png(out.images[0])

    return call


def bench_drafts(s: Setup, plan: Plan) -> tuple[list[Row], list[JobOutput], EnginePath]:
    jobs = draft_jobs(s, plan)
    ctx = RunContext(load_artifact=s.store.get)
    stock_calls = [_txt2img_stock(s, job) for job in jobs]

    def stock_all() -> None:
        for call in stock_calls:
            call()

    outputs: list[JobOutput] = []
    batches = make_batches(jobs, lambda j: j, s.runner.group_key, plan.max_batch)

    def engine_all() -> list[JobOutput]:
        outputs.clear()
        for batch in batches:
            outputs.extend(s.runner.run(batch.items, ctx))
        return list(outputs)

    first, calls = batches[0].items, len(batches)
    stock_flops = count_flops(stock_calls[0])
    engine_flops = count_flops(lambda: s.runner.run(first, ctx))
    if plan.repeats > 1:  # a warm-up; a single timed run follows the FLOP counts' runs only
        stock_calls[0]()
        engine_all()
    stock_s = timed(stock_all, s.device, plan.repeats, plan.deadline)
    engine_s = timed(engine_all, s.device, plan.repeats, plan.deadline)
    rows = [
        make_row("draft", "stock", len(jobs), len(jobs), stock_s, stock_flops, stock_s / len(jobs), 1),
        make_row("draft", "engine", len(jobs), calls, engine_s, engine_flops, engine_s / calls, len(first)),
    ]
    rows[1].errors = sum(1 for out in outputs if out.error)
    return rows, list(outputs), EnginePath("draft", engine_all, len(jobs), calls, engine_flops, len(first))


def bench_single(
    s: Setup, plan: Plan, stage: str, job: Job, stock: Callable[[], object]
) -> tuple[list[Row], EnginePath]:
    ctx = RunContext(load_artifact=s.store.get)
    errors: set[str] = set()

    def engine() -> list[JobOutput]:
        (out,) = s.runner.run([job], ctx)
        if out.error:  # e.g. random fp16 weights overflowing: the timing still counts, the report says so
            errors.add(out.error)
        return [out]

    stock_flops = count_flops(stock)
    engine_flops = count_flops(engine)
    repeats = plan.repeats
    if repeats > 1:  # a warm-up; a single timed run follows the FLOP counts' runs only
        stock()
        engine()
        # a stage this slow is timed once when one warm-up already took a good part of what is left
        left = plan.deadline.left()
        if left is not None and once(engine, s.device) * (2 * repeats + 2) > left:
            repeats = 1
    stock_s = timed(stock, s.device, repeats, plan.deadline)
    engine_s = timed(engine, s.device, repeats, plan.deadline)
    rows = [
        make_row(stage, "stock", 1, 1, stock_s, stock_flops, stock_s, 1),
        make_row(stage, "engine", 1, 1, engine_s, engine_flops, engine_s, 1),
    ]
    rows[1].errors = len(errors)
    return rows, EnginePath(stage, engine, 1, 1, engine_flops, 1)


def bench_final(s: Setup, plan: Plan, source: str) -> tuple[list[Row], EnginePath]:
    """One image straight at final quality (the preset's steps, size and full decoder), no drafting."""
    job = Job(
        job_id="final-0", campaign_id="campaign-0", kind=JobKind.DRAFT, model=s.model, prompt=PROMPTS[0],
        seeds=[1000], preset="final", steps=plan.steps, **size_fields(s, plan, "final"),
    )  # fmt: skip
    return bench_single(s, plan, "final", job, _txt2img_stock(s, job))


def bench_refine(s: Setup, plan: Plan, source: str) -> tuple[list[Row], EnginePath]:
    job = Job(
        job_id="refine-0", campaign_id="campaign-0", kind=JobKind.REFINE, model=s.model, prompt=PROMPTS[0],
        seeds=[1000], init_image=source, preset="final", steps=plan.steps, **size_fields(s, plan, "final"),
    )  # fmt: skip
    res = s.runner.resolved(job)
    strength = s.runner.strength(job)
    pipe = s.registry.pipeline(s.model, "img2img")
    image = Image.open(io.BytesIO(s.store.get(source))).convert("RGB").resize((res.width, res.height))

    def stock() -> bytes:
        s.registry.set_scheduler(pipe, res.scheduler, res.spacing)
        with torch.inference_mode():
            out = pipe(
                job.prompt, image=image, strength=strength,
                generator=torch.Generator("cpu").manual_seed(1000),
                num_inference_steps=img2img_steps(res.steps, strength), guidance_scale=res.guidance,
            )  # fmt: skip
        return png(out.images[0])

    return bench_single(s, plan, "refine", job, stock)


def centre_cut(image: Image.Image, side: int | None) -> Image.Image:
    if side is None:
        return image
    width, height = min(image.width, side), min(image.height, side)
    left, top = (image.width - width) // 2, (image.height - height) // 2
    return image.crop((left, top, left + width, top + height))


def bench_upscale(s: Setup, plan: Plan, source: str) -> tuple[list[Row], EnginePath]:
    image = centre_cut(Image.open(io.BytesIO(s.store.get(source))).convert("RGB"), plan.upscale_side)
    job = Job(job_id="upscale-0", campaign_id="campaign-0", kind=JobKind.UPSCALE, model=s.model, seeds=[1000],
              init_image=s.store.put(png(image)), scale=4)  # fmt: skip
    upscaler = s.registry.upscaler()
    bgr = np.ascontiguousarray(np.asarray(image)[:, :, ::-1])

    def stock() -> bytes:
        with contextlib.redirect_stdout(io.StringIO()):  # RealESRGANer prints per tile
            out, _ = upscaler.enhance(bgr, outscale=4)
        return png(Image.fromarray(np.ascontiguousarray(out[:, :, ::-1])))

    return bench_single(s, plan, "upscale", job, stock)


def bench_compiled(s: Setup, plan: Plan, path: EnginePath) -> tuple[Row, float]:
    """The engine path again with compile on: its row and the seconds of its first (compiling) call."""
    outputs: list[JobOutput] = []
    compile_s = once(lambda: outputs.extend(path.run()), s.device)
    path.run()  # a second warm-up: CUDA graphs are recorded on a later call than the compiling one
    seconds = timed(path.run, s.device, plan.repeats, plan.deadline)
    row = make_row(stage=path.stage, path="engine+compile", images=path.images, calls=path.calls,
                   seconds=seconds, flops_call=path.flops_call, call_s=seconds / path.calls,
                   images_per_call=path.images_per_call)  # fmt: skip
    row.errors = sum(1 for out in outputs if out.error)
    return row, compile_s


STAGES: dict[str, Any] = {"final": bench_final, "refine": bench_refine, "upscale": bench_upscale}
