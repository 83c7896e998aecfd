"""Variation, img2img and refine: img2img of a source image at the resolved size, one seed per image."""

from __future__ import annotations

from PIL import Image

from engine.api import Job
from engine.presets import Resolved
from engine.runner import BadInput, RunContext
from engine.stages.common import Prepared, load_rgb


def prepare_img2img(job: Job, res: Resolved, ctx: RunContext) -> Prepared:
    if not job.init_image:
        raise BadInput(f"A {job.kind.value} needs a source image.")
    source = load_rgb(ctx, job.init_image, "source")
    item = Prepared(job=job, width=res.width, height=res.height)
    item.inputs["image"] = source.resize((res.width, res.height), Image.Resampling.LANCZOS)
    return item
