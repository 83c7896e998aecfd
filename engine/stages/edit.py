"""Inpaint (mask image, box or faces) and outpaint (zoom out, pan): both run the inpainting pipeline.

An uploaded mask whose size differs from the source is resized to the source (white = repaint). The
result is composited over the source (or the outpaint canvas) through a slightly feathered mask, so only
the masked area changes.
"""

from __future__ import annotations

from collections.abc import Callable

import cv2
import numpy as np
from PIL import Image, ImageDraw, ImageFilter

from engine.api import Job
from engine.presets import FAMILIES
from engine.runner import BadInput, RunContext
from engine.stages.common import Prepared, load_image, load_rgb

MAX_ZOOM = 4.0
PAN_EXTEND = 0.5
FEATHER_FRACTION = 1 / 256  # Gaussian blur radius of the composite mask, as a fraction of the long side
FaceFinder = Callable[[Image.Image], list[tuple[int, int, int, int]]]


def _fit(width: float, height: float, family: str) -> tuple[int, int]:
    """Scale (keeping aspect) under the family's max side and round to its multiple."""
    fam = FAMILIES[family]
    mult, top = fam["multiple"], fam["max_side"]
    scale = min(1.0, top / max(width, height))
    return (
        max(mult, int(width * scale / mult + 0.5) * mult),
        max(mult, int(height * scale / mult + 0.5) * mult),
    )


def build_mask(job: Job, source: Image.Image, ctx: RunContext, find_faces: FaceFinder) -> Image.Image:
    spec = job.mask
    if spec is None:
        raise BadInput("Inpainting needs a mask: an image, a box (x,y,w,h) or faces.")
    mask = Image.new("L", source.size, 0)
    if spec.image:
        uploaded = load_image(ctx, spec.image, "mask").convert("L")
        if uploaded.size != source.size:
            uploaded = uploaded.resize(source.size, Image.Resampling.NEAREST)
        mask = uploaded.point(lambda v: 255 if v >= 128 else 0)
    elif spec.box:
        x, y, w, h = spec.box
        x0, y0 = max(0, x), max(0, y)
        x1, y1 = min(source.width, x + w), min(source.height, y + h)
        if w <= 0 or h <= 0 or x1 <= x0 or y1 <= y0:
            raise BadInput(
                f"The box {x},{y},{w},{h} (x,y,w,h in pixels) is outside the {source.width}x{source.height} "
                "image; a box in percent (--box 25%,25%,50%,50%) always fits."
            )
        ImageDraw.Draw(mask).rectangle((x0, y0, x1 - 1, y1 - 1), fill=255)
    elif spec.faces:
        boxes = find_faces(source)
        if not boxes:
            raise BadInput("No face found in the image; send a mask image or a box instead.")
        draw = ImageDraw.Draw(mask)
        for x0, y0, x1, y1 in boxes:
            pad_x, pad_y = (x1 - x0) // 8, (y1 - y0) // 8
            draw.rectangle((x0 - pad_x, y0 - pad_y, x1 + pad_x, y1 + pad_y), fill=255)
    else:
        raise BadInput("Inpainting needs a mask: an image, a box (x,y,w,h) or faces.")
    if mask.getbbox() is None:
        raise BadInput("The mask is empty: paint the area to change in white.")
    return mask


def feather(mask: Image.Image) -> Image.Image:
    """The mask with softened edges (a blur of at least 1 px, growing with the image size)."""
    radius = max(1.0, max(mask.size) * FEATHER_FRACTION)
    return mask.filter(ImageFilter.GaussianBlur(radius))


def prepare_inpaint(job: Job, family: str, ctx: RunContext, find_faces: FaceFinder) -> Prepared:
    if not job.init_image:
        raise BadInput("Inpainting needs a source image.")
    source = load_rgb(ctx, job.init_image, "source")
    mask = build_mask(job, source, ctx, find_faces)
    width, height = _fit(source.width, source.height, family)
    item = Prepared(job=job, width=width, height=height, out_size=source.size)
    item.inputs["image"] = source.resize((width, height), Image.Resampling.LANCZOS)
    item.inputs["mask_image"] = mask.resize((width, height), Image.Resampling.NEAREST)
    item.keep = (source, feather(mask))
    return item


def outpaint_canvas(
    source: Image.Image, zoom: float | None, pan: str | None, family: str
) -> tuple[Image.Image, Image.Image]:
    """The grown canvas (source placed, new area filled from its edges) and the mask of the new area."""
    w, h = source.size
    if pan is not None:
        grow_x = pan in ("left", "right")
        cw, ch = (w * (1 + PAN_EXTEND), h) if grow_x else (w, h * (1 + PAN_EXTEND))
    else:
        factor = 1.5 if zoom is None else zoom
        if not 1.0 < factor <= MAX_ZOOM:
            raise BadInput(f"Zoom out must be between 1 and {MAX_ZOOM:g} (got {factor:g}); try 1.5 or 2.")
        cw, ch = w * factor, h * factor
    width, height = _fit(cw, ch, family)
    scale = min(width / cw, height / ch)
    sw, sh = max(1, round(w * scale)), max(1, round(h * scale))
    placed = source.resize((sw, sh), Image.Resampling.LANCZOS)
    if pan == "left":
        left, top = width - sw, (height - sh) // 2
    elif pan == "right":
        left, top = 0, (height - sh) // 2
    elif pan == "up":
        left, top = (width - sw) // 2, height - sh
    elif pan == "down":
        left, top = (width - sw) // 2, 0
    else:
        left, top = (width - sw) // 2, (height - sh) // 2
    filled = cv2.copyMakeBorder(
        np.asarray(placed), top, height - sh - top, left, width - sw - left, cv2.BORDER_REPLICATE
    )
    canvas = Image.fromarray(filled).filter(ImageFilter.GaussianBlur(2))
    canvas.paste(placed, (left, top))
    mask = Image.new("L", (width, height), 255)
    inner = 2 if min(sw, sh) > 8 else 0
    ImageDraw.Draw(mask).rectangle(
        (left + inner, top + inner, left + sw - 1 - inner, top + sh - 1 - inner), fill=0
    )
    return canvas, mask


def prepare_outpaint(job: Job, family: str, ctx: RunContext) -> Prepared:
    if not job.init_image:
        raise BadInput("Outpainting needs a source image.")
    source = load_rgb(ctx, job.init_image, "source")
    canvas, mask = outpaint_canvas(source, job.zoom, job.pan, family)
    item = Prepared(job=job, width=canvas.width, height=canvas.height)
    item.inputs["image"] = canvas
    item.inputs["mask_image"] = mask
    item.keep = (canvas, feather(mask))
    return item
