"""Uploads are checked off the event loop: the loop keeps answering while large images are decoded, and
bad uploads still get their specific answers without any image of the message being stored."""

from __future__ import annotations

import asyncio
import io
import time
from pathlib import Path

import pytest
from PIL import Image

from bot.core import grammar
from bot.core.commands import Command, CommandError, Draft
from bot.usecases.uploads import MAX_DECODES_AT_ONCE, ImageResolver, UploadError
from engine.artifacts import ArtifactStore


def _png(colour: tuple[int, int, int], size: tuple[int, int] = (4000, 4000)) -> bytes:
    """16 megapixels that compress to a few kilobytes but take a real decode."""
    buf = io.BytesIO()
    Image.new("RGB", size, colour).save(buf, format="PNG")
    return buf.getvalue()


def _command(text: str) -> Command:
    parsed = grammar.parse(text)
    assert not isinstance(parsed, CommandError), parsed
    return parsed


class _Ticker:
    """Measures the event loop's longest stall: the largest gap between ticks meant to run every ``every``."""

    def __init__(self, every: float = 0.005) -> None:
        self.every = every
        self.largest_gap = 0.0
        self._stop = asyncio.Event()

    async def run(self) -> None:
        last = time.perf_counter()
        while not self._stop.is_set():
            await asyncio.sleep(self.every)
            now = time.perf_counter()
            self.largest_gap = max(self.largest_gap, now - last)
            last = now

    def stop(self) -> None:
        self._stop.set()


@pytest.fixture(scope="module")
def big_pngs() -> list[bytes]:
    return [_png((i * 40, 255 - i * 40, 7 * i)) for i in range(6)]


async def test_the_loop_keeps_answering_while_uploads_are_decoded(
    big_pngs: list[bytes], tmp_path: Path
) -> None:
    artifacts = ArtifactStore(tmp_path / "artifacts")
    names = [f"ref{i}.png" for i in range(len(big_pngs))]
    attachments = dict(zip(names, big_pngs, strict=True))
    refs = " ".join(f"--sref {name}" for name in names[:4])
    text = f"/draft fox {refs} --cref {names[4]} --image {names[5]}"
    messages = 4

    ticker = _Ticker()
    ticking = asyncio.create_task(ticker.run())
    await asyncio.sleep(0.05)
    started = time.perf_counter()
    resolved = await asyncio.gather(
        *(ImageResolver(artifacts, attachments).command(_command(text)) for _ in range(messages))
    )
    checking_took = time.perf_counter() - started
    ticker.stop()
    await ticking

    for cmd in resolved:
        assert isinstance(cmd, Draft)
        assert len(cmd.sref) == 4 and cmd.cref is not None and cmd.image is not None
        assert all(artifacts.exists(key) for key in (*cmd.sref, cmd.cref, cmd.image))
    # decoding 24 images of 16 MP takes a while; the loop never stalls for more than a small part of it
    assert checking_took > 10 * ticker.largest_gap, (checking_took, ticker.largest_gap)


async def test_decodes_are_bounded_and_run_on_other_threads(big_pngs: list[bytes], tmp_path: Path) -> None:
    import threading

    from bot.usecases import uploads

    seen_threads: set[str] = set()
    running = 0
    most_at_once = 0
    guard = threading.Lock()
    original = uploads.decode_fully

    def counting_decode(data: bytes, *, name: str = "upload") -> None:
        nonlocal running, most_at_once
        with guard:
            running += 1
            most_at_once = max(most_at_once, running)
            seen_threads.add(threading.current_thread().name)
        try:
            original(data, name=name)
        finally:
            with guard:
                running -= 1

    uploads.decode_fully = counting_decode  # type: ignore[assignment]
    try:
        attachments = {f"r{i}.png": data for i, data in enumerate(big_pngs[:4])}
        refs = " ".join(f"--sref {name}" for name in attachments)
        resolver = ImageResolver(ArtifactStore(tmp_path / "a"), attachments)
        await resolver.command(_command(f"/draft fox {refs}"))
    finally:
        uploads.decode_fully = original  # type: ignore[assignment]
    assert 1 <= most_at_once <= MAX_DECODES_AT_ONCE
    assert threading.main_thread().name not in seen_threads


def _gif() -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (4, 4)).save(buf, format="GIF")
    return buf.getvalue()


def _bomb() -> bytes:
    buf = io.BytesIO()
    Image.new("1", (5000, 4000)).save(buf, format="PNG")
    return buf.getvalue()


@pytest.mark.parametrize(
    ("bad", "expected"),
    [
        (b"just some text", "is not an image"),
        (b"\x89PNG\r\n\x1a\n" + b"\x00" * 11_000_000, "at most 10 MB"),
        (_bomb(), "at most 16 megapixels"),
        (_gif(), "is GIF"),
    ],
    ids=["not-an-image", "oversized", "too-many-pixels", "gif"],
)
async def test_a_bad_upload_among_good_ones_is_refused_before_any_is_decoded_or_stored(
    big_pngs: list[bytes], tmp_path: Path, bad: bytes, expected: str
) -> None:
    artifacts = ArtifactStore(tmp_path / "artifacts")
    attachments = {"good1.png": big_pngs[0], "good2.png": big_pngs[1], "bad.png": bad}
    cmd = _command("/draft fox --sref good1.png --sref good2.png --cref bad.png")
    with pytest.raises(UploadError) as refused:
        await ImageResolver(artifacts, attachments).command(cmd)
    assert expected in str(refused.value) and "'bad.png'" in str(refused.value)
    assert [p for p in (tmp_path / "artifacts").rglob("*") if p.is_file()] == []
