"""Safe image decoding and encoding: byte and pixel limits, decompression bombs, NaN output."""

from __future__ import annotations

import io
import warnings

import numpy as np
from PIL import Image, UnidentifiedImageError
from PIL.PngImagePlugin import PngInfo

from engine.recipes import Recipe
from engine.runner import BadInput

MAX_BYTES = 10 * 1024 * 1024
MAX_PIXELS = 16_000_000


def decode_image(data: bytes, *, max_bytes: int = MAX_BYTES, max_pixels: int = MAX_PIXELS) -> Image.Image:
    """Decode untrusted bytes into a fully loaded PIL image, or raise BadInput saying why not."""
    if len(data) > max_bytes:
        raise BadInput(f"The image is too large: {len(data) / 1e6:.1f} MB (limit {max_bytes / 1e6:.0f} MB).")
    if not data:
        raise BadInput("The image is empty.")
    with warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            img = Image.open(io.BytesIO(data))
            width, height = img.size
            if width * height > max_pixels:
                raise BadInput(
                    f"The image has too many pixels: {width}x{height} "
                    f"({width * height / 1e6:.0f} MP, limit {max_pixels / 1e6:.0f} MP)."
                )
            img.load()
        except BadInput:
            raise
        except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
            raise BadInput("The image looks like a decompression bomb (too many pixels); refused.") from exc
        except UnidentifiedImageError as exc:
            raise BadInput("That file is not an image (PNG, JPEG, WebP or GIF expected).") from exc
        except (OSError, ValueError, SyntaxError) as exc:
            raise BadInput(f"The image could not be decoded: {exc}.") from exc
    return img


def to_rgb(img: Image.Image) -> Image.Image:
    if img.mode == "RGB":
        return img
    if img.mode in ("RGBA", "LA") or (img.mode == "P" and "transparency" in img.info):
        rgba = img.convert("RGBA")
        background = Image.new("RGB", rgba.size, (255, 255, 255))
        background.paste(rgba, mask=rgba.getchannel("A"))
        return background
    return img.convert("RGB")


def encode_png(img: Image.Image, *, fast: bool = False, recipe: Recipe | None = None) -> bytes:
    """PNG bytes; ``fast`` (drafts and other intermediates) trades some size for a quick compression;
    ``recipe`` goes into the file's text chunks (see ``engine.recipes``)."""
    info = PngInfo()
    if recipe is not None:
        for key, value in recipe.chunks().items():
            info.add_itxt(key, value)  # iTXt: UTF-8, so prompts in any language survive
    buf = io.BytesIO()
    img.save(buf, format="PNG", compress_level=1 if fast else 6, pnginfo=info)
    return buf.getvalue()


def check_finite(array: np.ndarray) -> None:
    if not np.isfinite(array).all():
        raise BadInput("The model produced NaN/black output; try another seed, or a lower guidance.")


def array_to_image(array: np.ndarray) -> Image.Image:
    """A float array in [0, 1], HWC, to an RGB image."""
    check_finite(array)
    return Image.fromarray((np.clip(array, 0.0, 1.0) * 255.0).round().astype(np.uint8))
