"""Drafts: txt2img, img2img when an init image is given, ControlNet when a control image is given."""

from __future__ import annotations

import cv2
import numpy as np
from PIL import Image

from engine.api import Job
from engine.presets import Resolved
from engine.registry import ModelRegistry
from engine.runner import RunContext
from engine.stages.common import Prepared, load_rgb


def draft_mode(job: Job) -> str:
    if job.control_image:
        return "control"
    return "img2img" if job.init_image else "txt2img"


def canny(img: Image.Image, low: int = 100, high: int = 200) -> Image.Image:
    edges = cv2.Canny(np.asarray(img.convert("L")), low, high)
    return Image.fromarray(np.stack([edges] * 3, axis=-1))


def lineart(img: Image.Image) -> Image.Image:
    """Line art / sketch to a control map: dark strokes on light paper become white lines on black."""
    gray = np.asarray(img.convert("L"))
    blurred = cv2.GaussianBlur(gray, (3, 3), 0)
    lines = cv2.adaptiveThreshold(blurred, 255, cv2.ADAPTIVE_THRESH_MEAN_C, cv2.THRESH_BINARY_INV, 11, 8)
    return Image.fromarray(np.stack([lines] * 3, axis=-1))


def control_map(img: Image.Image, kind: str) -> Image.Image:
    return canny(img) if kind == "canny" else lineart(img)


def prepare_draft(job: Job, res: Resolved, ctx: RunContext) -> Prepared:
    item = Prepared(job=job, width=res.width, height=res.height)
    size = (res.width, res.height)
    if job.control_image:
        source = load_rgb(ctx, job.control_image, "control").resize(size, Image.Resampling.BICUBIC)
        item.inputs["image"] = control_map(source, job.control_kind or "canny")
    elif job.init_image:
        item.inputs["image"] = load_rgb(ctx, job.init_image, "init").resize(size, Image.Resampling.LANCZOS)
    return item


def draft_pipeline(registry: ModelRegistry, job: Job, res: Resolved) -> object:
    mode = draft_mode(job)
    if mode == "control":
        return registry.pipeline(
            job.model, "txt2img", tiny_vae=res.tiny_vae, control=job.control_kind or "canny"
        )
    return registry.pipeline(job.model, "img2img" if mode == "img2img" else "txt2img", tiny_vae=res.tiny_vae)
