"""Progress of a pull: a tqdm bar per file on a terminal, one line per finished file otherwise."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Protocol, TextIO


class ByteCounter(Protocol):
    def update(self, n: int) -> None: ...


class _Silent:
    def update(self, n: int) -> None:
        return None


def human_size(size: int | None) -> str:
    if size is None:
        return "size unknown"
    value = float(size)
    for unit in ("B", "kB", "MB", "GB"):
        if value < 1000 or unit == "GB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1000
    return f"{value:.1f} GB"


class Progress:
    """Reports files as they are fetched; ``bars`` defaults to whether ``stream`` is a terminal."""

    def __init__(self, stream: TextIO | None = None, bars: bool | None = None) -> None:
        self.stream = stream or sys.stdout
        self.bars = self.stream.isatty() if bars is None else bars

    def line(self, text: str) -> None:
        print(text, file=self.stream, flush=True)

    @contextmanager
    def file(self, label: str, total: int | None, initial: int = 0) -> Iterator[ByteCounter]:
        """Counts the bytes of one file; prints one line when it is done (no bar on a non-terminal)."""
        if not self.bars:
            yield _Silent()
            return
        from tqdm import tqdm

        with tqdm(
            total=total, initial=initial, desc=label, unit="B", unit_scale=True, file=self.stream
        ) as bar:
            yield bar

    def done(self, label: str, size: int | None, note: str = "ok") -> None:
        self.line(f"{label}  {human_size(size)}  {note}")
