"""Validation of images users upload (references, init images, sketches, masks)."""

from __future__ import annotations

import io
import warnings
from collections.abc import Mapping
from dataclasses import dataclass

from PIL import Image, UnidentifiedImageError

from bot.core.commands import Command, Draft, Inpaint, ScheduleAdd
from engine.artifacts import ArtifactStore

MAX_BYTES = 10 * 1024 * 1024
MAX_PIXELS = 16_000_000
ALLOWED_FORMATS = frozenset({"PNG", "JPEG", "WEBP"})


class UploadError(ValueError):
    """A message a user can read: why the upload was refused."""


@dataclass(frozen=True)
class ImageInfo:
    format: str
    width: int
    height: int


def validate_image(
    data: bytes, *, name: str = "upload", max_bytes: int = MAX_BYTES, max_pixels: int = MAX_PIXELS
) -> ImageInfo:
    """Check size, format and pixel count from the header before decoding, then decode it fully.

    PIL's own bomb guard (``Image.MAX_IMAGE_PIXELS``) is process-wide and is left to the engine; here the
    pixel count is checked against ``max_pixels`` before any pixel is decoded, and PIL's bomb warning is
    turned into an error as a second line.
    """
    if len(data) > max_bytes:
        raise UploadError(
            f"'{name}' is {len(data) / 1e6:.1f} MB; images may be at most {max_bytes / 1e6:.0f} MB."
        )
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as im:
                fmt = im.format or ""
                width, height = im.size
                if fmt not in ALLOWED_FORMATS:
                    raise UploadError(f"'{name}' is {fmt or 'not an image'}; send a PNG, JPEG or WEBP image.")
                if width * height > max_pixels:
                    raise UploadError(
                        f"'{name}' is {width}×{height} ({width * height / 1e6:.0f} megapixels); "
                        f"images may be at most {max_pixels / 1e6:.0f} megapixels."
                    )
                im.verify()  # chunk checksums and truncation, without decoding
            with Image.open(io.BytesIO(data)) as im:
                im.load()
    except UploadError:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise UploadError(f"'{name}' has too many pixels to be opened safely.") from exc
    except UnidentifiedImageError as exc:
        raise UploadError(f"'{name}' is not an image; send a PNG, JPEG or WEBP image.") from exc
    except (OSError, SyntaxError, ValueError) as exc:
        raise UploadError(f"'{name}' could not be read as an image (damaged or truncated).") from exc
    return ImageInfo(format=fmt, width=width, height=height)


def _is_artifact_key(value: str) -> bool:
    return len(value) == 64 and all(c in "0123456789abcdef" for c in value)


class ImageResolver:
    """Turns the image references of a command into artifact keys.

    An attachment name of this message -> validated and stored; an existing artifact key -> kept; anything
    else (a URL, a typo) -> a clear refusal naming the flag.
    """

    def __init__(self, artifacts: ArtifactStore, attachments: Mapping[str, bytes]) -> None:
        self.artifacts = artifacts
        self.attachments = attachments

    def one(self, flag: str, value: str) -> str:
        if value in self.attachments:
            data = self.attachments[value]
            validate_image(data, name=value)
            return self.artifacts.put(data)
        if _is_artifact_key(value) and self.artifacts.exists(value):
            return value
        raise UploadError(
            f"--{flag} needs an uploaded image; '{value}' is not one of this message's attachments."
        )

    def draft(self, cmd: Draft) -> Draft:
        update: dict[str, object] = {}
        if cmd.sref:
            update["sref"] = tuple(self.one("sref", v) for v in cmd.sref)
        for flag in ("cref", "image", "sketch"):
            value = getattr(cmd, flag)
            if value is not None:
                update[flag] = self.one(flag, value)
        return cmd.model_copy(update=update) if update else cmd

    def command(self, cmd: Command) -> Command:
        if isinstance(cmd, Draft):
            return self.draft(cmd)
        if isinstance(cmd, ScheduleAdd):
            return cmd.model_copy(update={"draft": self.draft(cmd.draft)})
        if isinstance(cmd, Inpaint) and cmd.mask is not None:
            return cmd.model_copy(update={"mask": self.one("mask", cmd.mask)})
        return cmd
