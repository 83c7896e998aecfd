"""Drafts: txt2img, img2img when an init image is given, ControlNet when a control image is given."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import cv2
import numpy as np
import torch
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


# CLIP's own pixel normalisation
_CLIP_MEAN = (0.48145466, 0.4578275, 0.40821073)
_CLIP_STD = (0.26862954, 0.26130258, 0.27577711)
HEAD_FILE = "aesthetic_head.safetensors"  # optional trained head beside the image encoder: weight, bias


class AestheticScorer:
    """A machine's opinion of a draft, 1-10: the CLIP image embedding through a linear head.

    The head is read from ``aesthetic_head.safetensors`` beside the encoder when there is one (a trained
    aesthetic predictor's last layer); otherwise it is a fixed seeded projection, which ranks images
    consistently but means nothing about taste (the offline tiny model's case).
    """

    def __init__(self, encoder: Any, weight: torch.Tensor, bias: torch.Tensor) -> None:
        self.encoder = encoder.eval()
        self.weight = weight.float()
        self.bias = bias.float()
        self.size = int(encoder.config.image_size)

    @classmethod
    def load(cls, encoder_folder: Path, seed: int = 0, device: str = "cpu") -> AestheticScorer:
        from transformers import CLIPVisionModelWithProjection

        encoder: Any = CLIPVisionModelWithProjection.from_pretrained(
            str(encoder_folder), local_files_only=True
        )
        encoder = encoder.to(torch.device(device))
        dim = int(encoder.config.projection_dim)
        head = encoder_folder / HEAD_FILE
        if head.is_file():
            from safetensors.torch import load_file

            tensors = load_file(str(head))
            return cls(encoder, tensors["weight"].reshape(dim), tensors["bias"].reshape(1))
        gen = torch.Generator().manual_seed(seed)
        return cls(encoder, torch.randn(dim, generator=gen), torch.zeros(1))

    def pixels(self, images: list[Image.Image]) -> torch.Tensor:
        arrays = [
            np.asarray(
                img.convert("RGB").resize((self.size, self.size), Image.Resampling.BICUBIC), np.float32
            )
            for img in images
        ]
        batch = torch.from_numpy(np.stack(arrays)).permute(0, 3, 1, 2) / 255.0
        mean = torch.tensor(_CLIP_MEAN).view(1, 3, 1, 1)
        std = torch.tensor(_CLIP_STD).view(1, 3, 1, 1)
        return (batch - mean) / std

    @torch.no_grad()
    def scores(self, images: list[Image.Image]) -> list[float]:
        if not images:
            return []
        encoder = self.encoder
        pixels = self.pixels(images).to(device=encoder.device, dtype=encoder.dtype)
        embeds = encoder(pixel_values=pixels).image_embeds.float().cpu()
        embeds = embeds / embeds.norm(dim=-1, keepdim=True).clamp_min(1e-6)
        raw = embeds @ self.weight + self.bias
        return [round(1.0 + 9.0 * float(v), 2) for v in torch.sigmoid(raw)]
