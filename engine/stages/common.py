"""What every diffusion stage shares: per-job preparation, one pipeline call per batch, outputs."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from typing import Any

import numpy as np
import torch
from PIL import Image

from engine.api import Job, JobKind
from engine.compile import padded_size
from engine.images import array_to_image, decode_image, encode_png, to_rgb
from engine.presets import Resolved
from engine.recipes import recipe_for
from engine.registry import ModelRegistry
from engine.runner import BadInput, Cancelled, JobOutput, RunContext, StageImage
from engine.stages.prompts import prompt_kwargs


@dataclass
class Prepared:
    """One job, ready for the pipeline: per-image inputs are repeated once per seed."""

    job: Job
    width: int
    height: int
    inputs: dict[str, Any] = field(default_factory=dict)  # image / mask_image / control image...
    out_size: tuple[int, int] | None = None  # resize each result to this (width, height)
    # (background, soft mask) at the output size: each result is pasted over the background through
    # the mask (white = generated), so pixels outside the mask stay those of the background
    keep: tuple[Image.Image, Image.Image] | None = None

    @property
    def seeds(self) -> list[int]:
        return list(self.job.seeds) or [0]


def load_image(ctx: RunContext, key: str, what: str) -> Image.Image:
    try:
        data = ctx.load_artifact(key)
    except (KeyError, OSError) as exc:
        raise BadInput(f"The {what} image is missing or unreadable.") from exc
    return decode_image(data)


def load_rgb(ctx: RunContext, key: str, what: str) -> Image.Image:
    return to_rgb(load_image(ctx, key, what))


def step_callback(ctx: RunContext) -> Callable[..., dict[str, Any]]:
    def on_step_end(pipe: Any, step: int, timestep: Any, kwargs: dict[str, Any]) -> dict[str, Any]:
        if ctx.is_cancelled():
            pipe._interrupt = True
            raise Cancelled("cancelled")
        ctx.on_step(step + 1, int(getattr(pipe, "num_timesteps", 0) or step + 1))
        return kwargs

    return on_step_end


INTERMEDIATE_KINDS = frozenset({JobKind.DRAFT, JobKind.VARIATION, JobKind.IMG2IMG})


def image_output(
    job: Job,
    images: list[Image.Image],
    seeds: list[int],
    work_units: float,
    res: Resolved | None = None,
    scores: list[float] | None = None,
) -> JobOutput:
    """The job's images, PNG-encoded later by the worker (fast compression for intermediates), each
    carrying its recipe (``res``: the steps, sampler and guidance the stage ran with)."""
    fast = job.kind in INTERMEDIATE_KINDS
    out = [
        StageImage(
            None,
            seed,
            img.width,
            img.height,
            encode=partial(
                encode_png, img, fast=fast, recipe=recipe_for(job, seed, img.width, img.height, res)
            ),
            score=scores[index] if scores else None,
        )
        for index, (img, seed) in enumerate(zip(images, seeds, strict=True))
    ]
    return JobOutput(job_id=job.job_id, images=out, work_units=work_units)


def img2img_steps(steps: int, strength: float | None) -> int:
    """Steps to ask for so that an img2img call runs at least one: diffusers runs int(steps * strength)
    of them and refuses zero (SDXL-Turbo's one-step draft at strength 0.6, a two-step refine at 0.4)."""
    if strength is None or strength <= 0:
        return steps
    asked = max(1, steps)
    while int(asked * strength) < 1:
        asked += 1
    return asked


def run_batch(
    registry: ModelRegistry,
    pipe: Any,
    items: list[Prepared],
    res: Resolved,
    ctx: RunContext,
    refs: list[Image.Image],
    style_weight: float,
    score: Callable[[list[Image.Image]], list[float]] | None = None,
    **call_kwargs: Any,
) -> list[JobOutput]:
    """One pipeline call for every image of every prepared job (one generator per image); ``score``
    rates each finished image (drafts: the aesthetic hint).

    With compile on, the call is padded to a batch bucket (engine.compile) by repeating the last image's
    prompt, seed and inputs; the extra images are dropped.
    """
    if not items:
        return []
    model = items[0].job.model
    width, height = items[0].width, items[0].height
    registry.set_scheduler(pipe, res.scheduler, res.spacing)
    registry.set_ip_adapter(model, pipe, style_weight if refs else None)
    prompts, negatives, generators = [], [], []
    per_image: dict[str, list[Any]] = {}
    for item in items:
        for seed in item.seeds:
            prompts.append(item.job.prompt)
            negatives.append(item.job.negative)
            generators.append(torch.Generator("cpu").manual_seed(seed))
            for name, value in item.inputs.items():
                per_image.setdefault(name, []).append(value)
    count = len(prompts)
    for _ in range(padded_size(count, registry.compile_mode) - count):
        prompts.append(prompts[-1])
        negatives.append(negatives[-1])
        generators.append(torch.Generator("cpu").manual_seed(items[-1].seeds[-1]))
        for values in per_image.values():
            values.append(values[-1])
    if refs:
        call_kwargs["ip_adapter_image"] = [refs]
    with torch.inference_mode():
        result = pipe(
            **prompt_kwargs(pipe, prompts, negatives, res.guidance),
            generator=generators,
            num_inference_steps=img2img_steps(res.steps, call_kwargs.get("strength")),
            guidance_scale=res.guidance,
            width=width,
            height=height,
            output_type="np",
            callback_on_step_end=step_callback(ctx),
            **per_image,
            **call_kwargs,
        )
    arrays: np.ndarray = np.asarray(result.images)[:count]
    outputs: list[JobOutput] = []
    index = 0
    for item in items:
        seeds = item.seeds
        chunk = arrays[index : index + len(seeds)]
        index += len(seeds)
        units = float(width * height * res.steps * len(seeds))
        try:
            images = [array_to_image(a) for a in chunk]
        except BadInput as exc:
            outputs.append(JobOutput(job_id=item.job.job_id, error=str(exc), work_units=units))
            continue
        if item.out_size is not None:
            images = [img.resize(item.out_size, Image.Resampling.LANCZOS) for img in images]
        if item.keep is not None:
            background, mask = item.keep
            images = [Image.composite(img, background, mask) for img in images]
        outputs.append(image_output(item.job, images, seeds, units, res, score(images) if score else None))
    return outputs


def load_refs(job: Job, ctx: RunContext) -> list[Image.Image]:
    keys = [*job.style_refs, *([job.character_ref] if job.character_ref else [])]
    return [load_rgb(ctx, key, "reference") for key in keys]
