"""Upscale (Real-ESRGAN; optional GFPGAN face restore) and restore faces (GFPGAN).

The upscaler runs in fp16 on CUDA (engine.stages.post). Tiles follow the device: on CUDA an input up to
``CUDA_UNTILED_PIXELS`` is upscaled in one piece and larger ones in ``CUDA_TILE`` tiles; elsewhere the
small tiles of the post-processing spec keep memory low.
"""

from __future__ import annotations

import contextlib
import io
from collections.abc import Iterator
from typing import Any

import cv2
import numpy as np
from PIL import Image

from engine.api import Job, JobKind
from engine.runner import BadInput, JobOutput, RunContext
from engine.stages.common import image_output, load_rgb
from engine.stages.post import face_boxes, set_upscale

MAX_OUTPUT_PIXELS = 64_000_000
CUDA_UNTILED_PIXELS = 2_100_000  # input pixels (about 1448 x 1448) upscaled without tiling on CUDA
CUDA_TILE = 1024


def tile_size(device_type: str, width: int, height: int, spec_tile: int) -> int:
    """RealESRGANer's tile size (0: no tiling) for a ``width`` x ``height`` input on ``device_type``."""
    if device_type != "cuda":
        return spec_tile
    return 0 if width * height <= CUDA_UNTILED_PIXELS else CUDA_TILE


@contextlib.contextmanager
def tiles_for(upscaler: Any, img: Image.Image) -> Iterator[None]:
    """Run ``upscaler`` (a RealESRGANer) with the tile size for ``img`` on its device, then restore it."""
    configured = upscaler.tile_size
    upscaler.tile_size = tile_size(upscaler.device.type, img.width, img.height, configured)
    try:
        yield
    finally:
        upscaler.tile_size = configured


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
    ctx.on_step(0, 1)  # started: the status line says so while the one long step runs
    quiet = contextlib.redirect_stdout(io.StringIO())  # RealESRGANer prints per tile
    if job.kind == JobKind.UPSCALE:
        scale = job.scale or 2
        if scale not in (2, 4):
            raise BadInput(f"Upscale by 2 or 4 (got {scale}).")
        if source.width * source.height * scale * scale > MAX_OUTPUT_PIXELS:
            raise BadInput(f"A {source.width}x{source.height} image is too large to upscale x{scale}.")
        with quiet, tiles_for(upscaler, source):
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
