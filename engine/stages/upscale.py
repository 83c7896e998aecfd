"""Upscale (Real-ESRGAN, tiled; optional GFPGAN face restore) and restore faces (GFPGAN)."""

from __future__ import annotations

import contextlib
import io
from typing import Any

import cv2
import numpy as np
from PIL import Image

from engine.api import Job, JobKind
from engine.runner import BadInput, JobOutput, RunContext
from engine.stages.common import image_output, load_rgb
from engine.stages.post import face_boxes, set_upscale

MAX_OUTPUT_PIXELS = 64_000_000


def _bgr(img: Image.Image) -> np.ndarray:
    return cv2.cvtColor(np.asarray(img), cv2.COLOR_RGB2BGR)


def _rgb(bgr: np.ndarray) -> Image.Image:
    return Image.fromarray(cv2.cvtColor(np.clip(bgr, 0, 255).astype(np.uint8), cv2.COLOR_BGR2RGB))


def find_faces(restorer: Any, img: Image.Image) -> list[tuple[int, int, int, int]]:
    return face_boxes(restorer, _bgr(img))


def run_post(job: Job, ctx: RunContext, upscaler: Any, restorer: Any | None) -> JobOutput:
    if not job.init_image:
        raise BadInput(f"{job.kind.value} needs a source image.")
    source = load_rgb(ctx, job.init_image, "source")
    seed = job.seeds[0] if job.seeds else 0
    quiet = contextlib.redirect_stdout(io.StringIO())  # RealESRGANer prints per tile
    if job.kind == JobKind.UPSCALE:
        scale = job.scale or 2
        if scale not in (2, 4):
            raise BadInput(f"Upscale by 2 or 4 (got {scale}).")
        if source.width * source.height * scale * scale > MAX_OUTPUT_PIXELS:
            raise BadInput(f"A {source.width}x{source.height} image is too large to upscale x{scale}.")
        with quiet:
            if restorer is not None:
                set_upscale(restorer, scale, upscaler)
                _, _, out = restorer.enhance(_bgr(source), paste_back=True)
            else:
                out, _ = upscaler.enhance(_bgr(source), outscale=scale)
        ctx.on_step(1, 1)
        result = _rgb(out)
        return image_output(job, [result], [seed], float(result.width * result.height))
    if restorer is None:
        raise BadInput("Face restoration is not available on this worker.")
    set_upscale(restorer, 1, None)
    with quiet:
        _, _, out = restorer.enhance(_bgr(source), paste_back=True)
    ctx.on_step(1, 1)
    result = _rgb(out)
    if result.size != source.size:
        result = result.resize(source.size, Image.Resampling.LANCZOS)
    return image_output(job, [result], [seed], float(result.width * result.height))
