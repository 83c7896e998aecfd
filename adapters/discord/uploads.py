"""Fitting a message's images into Discord's upload limits: at most ten files per message and the guild's
upload limit (``Guild.filesize_limit``) per message.

PNGs go as they are when they fit. Otherwise each image gets a share of the limit and a PNG over its
share is sent as a JPEG preview (lower quality, then smaller, until it fits); files are packed into as
few messages as the limits allow. The full-size files stay in the artifact store: an image whose full
file could not be uploaded even alone is marked ``oversize``, so the message can say where to get it.
"""

from __future__ import annotations

import io
from dataclasses import dataclass

from PIL import Image

MAX_FILES = 10
PAYLOAD_RESERVE = 64 * 1024  # the message's JSON and multipart framing share the limit
_QUALITIES = (85, 70, 55, 40)
_SHRINK = 0.75
_SMALLEST_SIDE = 64


@dataclass(frozen=True)
class Upload:
    number: int
    filename: str
    data: bytes
    oversize: bool = False  # the full file is over the upload limit: this is a preview of it
    full_bytes: int = 0


def preview(png: bytes, most_bytes: int) -> bytes:
    """A JPEG of the image that is at most ``most_bytes`` (softer, then smaller, as needed)."""
    with Image.open(io.BytesIO(png)) as opened:
        image = opened.convert("RGB")
    while True:
        for quality in _QUALITIES:
            out = io.BytesIO()
            image.save(out, format="JPEG", quality=quality, optimize=True)
            if out.tell() <= most_bytes:
                return out.getvalue()
        if min(image.size) <= _SMALLEST_SIDE:
            return out.getvalue()  # as small as a preview gets
        size = (max(1, int(image.width * _SHRINK)), max(1, int(image.height * _SHRINK)))
        image = image.resize(size, Image.Resampling.LANCZOS)


def plan_uploads(images: list[tuple[int, bytes]], limit: int) -> list[list[Upload]]:
    """``(number, png)`` pairs in order → batches of uploads, one batch per message, each within the
    limits. Pure CPU work: run it off the event loop."""
    if not images:
        return []
    budget = max(limit - PAYLOAD_RESERVE, limit // 2)
    if len(images) <= MAX_FILES and sum(len(png) for _, png in images) <= budget:
        return [[Upload(n, f"draft-{n}.png", png) for n, png in images]]
    share = budget // min(len(images), MAX_FILES)
    uploads: list[Upload] = []
    for number, png in images:
        if len(png) <= share:
            uploads.append(Upload(number, f"draft-{number}.png", png))
            continue
        uploads.append(
            Upload(
                number,
                f"draft-{number}.jpg",
                preview(png, share),
                oversize=len(png) > budget,
                full_bytes=len(png),
            )
        )
    return pack(uploads, budget)


def pack(uploads: list[Upload], budget: int) -> list[list[Upload]]:
    """Consecutive uploads into messages of at most ten files and ``budget`` bytes."""
    batches: list[list[Upload]] = []
    current: list[Upload] = []
    used = 0
    for upload in uploads:
        if current and (len(current) == MAX_FILES or used + len(upload.data) > budget):
            batches.append(current)
            current, used = [], 0
        current.append(upload)
        used += len(upload.data)
    if current:
        batches.append(current)
    return batches


def megabytes(size: int) -> str:
    return f"{size / (1024 * 1024):.1f} MB"
