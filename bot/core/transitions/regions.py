"""Regions of an image: a ``--box`` in pixels or percent, checked against the image before any job."""

from __future__ import annotations

from bot.core.model import Candidate
from bot.core.transitions.base import Refused


def _example(width: int, height: int) -> str:
    """A box that fits: the middle half of the image, in pixels."""
    return f"{width // 4},{height // 4},{max(width // 2, 1)},{max(height // 2, 1)}"


def box_in_pixels(
    cand: Candidate,
    box: tuple[int, int, int, int] | None,
    box_percent: tuple[float, float, float, float] | None,
) -> tuple[int, int, int, int]:
    """The box in pixels of ``cand``; refused, naming the image's size, when it doesn't fit inside."""
    width, height = cand.width, cand.height
    if box_percent is not None:
        px, py, pw, ph = box_percent
        x, y = round(width * px / 100), round(height * py / 100)
        w = max(round(width * pw / 100), 1)
        h = max(round(height * ph / 100), 1)
        return (x, y, min(w, width - x) if x < width else w, min(h, height - y) if y < height else h)
    assert box is not None
    x, y, w, h = box
    if width <= 0 or height <= 0 or (x + w <= width and y + h <= height):
        return box
    return _refuse(cand, box)


def _refuse(cand: Candidate, box: tuple[int, int, int, int]) -> tuple[int, int, int, int]:
    x, y, w, h = box
    width, height = cand.width, cand.height
    raise Refused(
        f"The box {x},{y},{w},{h} doesn't fit inside #{cand.number}, which is {width}x{height} pixels "
        f"(x+w must be at most {width}, y+h at most {height}). Give it in pixels, e.g. "
        f"`--box {_example(width, height)}`, or in percent of the image, e.g. `--box 25%,25%,50%,50%`."
    )
