"""Validation of images users upload (references, init images, sketches, masks), off the event loop.

Every attachment a command names is first checked from its header alone (size in bytes, format,
dimensions), all of them before any is decoded, so a bad upload is refused without decoding the good
ones. Then each is fully decoded and stored in a small thread pool: at most ``MAX_DECODES_AT_ONCE``
decodes run at a time, and the event loop keeps serving other requests meanwhile (Pillow and the
file system release the GIL while they work).
"""

from __future__ import annotations

import asyncio
import io
import warnings
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import partial

from PIL import Image, UnidentifiedImageError

from bot.core.commands import Command, Draft, Inpaint, ScheduleAdd
from engine.artifacts import ArtifactStore

MAX_BYTES = 10 * 1024 * 1024
MAX_PIXELS = 16_000_000
ALLOWED_FORMATS = frozenset({"PNG", "JPEG", "WEBP"})
MAX_DECODES_AT_ONCE = 2

_decoders: ThreadPoolExecutor | None = None


def _decoder_pool() -> ThreadPoolExecutor:
    global _decoders
    if _decoders is None:
        _decoders = ThreadPoolExecutor(max_workers=MAX_DECODES_AT_ONCE, thread_name_prefix="upload-decode")
    return _decoders


class UploadError(ValueError):
    """A message a user can read: why the upload was refused."""


@dataclass(frozen=True)
class ImageInfo:
    format: str
    width: int
    height: int


def _refusal(exc: BaseException, name: str) -> UploadError:
    if isinstance(exc, UploadError):
        return exc
    if isinstance(exc, Image.DecompressionBombError | Image.DecompressionBombWarning):
        return UploadError(f"'{name}' has too many pixels to be opened safely.")
    if isinstance(exc, UnidentifiedImageError):
        return UploadError(f"'{name}' is not an image; send a PNG, JPEG or WEBP image.")
    return UploadError(f"'{name}' could not be read as an image (damaged or truncated).")


_READ_ERRORS = (
    UploadError,
    Image.DecompressionBombError,
    Image.DecompressionBombWarning,
    UnidentifiedImageError,
    OSError,
    SyntaxError,
    ValueError,
)


def check_header(
    data: bytes, *, name: str = "upload", max_bytes: int = MAX_BYTES, max_pixels: int = MAX_PIXELS
) -> ImageInfo:
    """Size, format and pixel count from the header and the chunk structure, without decoding pixels.

    PIL's own bomb guard (``Image.MAX_IMAGE_PIXELS``) is process-wide and is left to the engine; here the
    pixel count is checked against ``max_pixels`` first, and PIL's bomb warning is an error as a second
    line.
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
    except _READ_ERRORS as exc:
        raise _refusal(exc, name) from exc
    return ImageInfo(format=fmt, width=width, height=height)


def decode_fully(data: bytes, *, name: str = "upload") -> None:
    """Decode every pixel: a file whose header is fine but whose data is damaged is refused here."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as im:
                im.load()
    except _READ_ERRORS as exc:
        raise _refusal(exc, name) from exc


def _decode_and_store(artifacts: ArtifactStore, data: bytes, name: str) -> str:
    decode_fully(data, name=name)
    return artifacts.put(data)


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

    def _named(self, command: Command) -> list[tuple[str, str]]:
        """(flag, value) of every image the command names, in the order the flags are read."""
        draft = command.draft if isinstance(command, ScheduleAdd) else command
        named: list[tuple[str, str | None]] = []
        if isinstance(draft, Draft):
            named += [("sref", v) for v in draft.sref]
            named += [(flag, getattr(draft, flag)) for flag in ("cref", "image", "sketch")]
        if isinstance(command, Inpaint):
            named.append(("mask", command.mask))
        return [(flag, value) for flag, value in named if value is not None]

    def _refuse_unknown(self, flag: str, value: str) -> None:
        if value in self.attachments:
            return
        if _is_artifact_key(value) and self.artifacts.exists(value):
            return
        raise UploadError(
            f"--{flag} needs an uploaded image; '{value}' is not one of this message's attachments."
        )

    async def _resolve_all(self, named: list[tuple[str, str]]) -> dict[str, str]:
        """Attachment name -> artifact key, for every attachment among ``named`` (each checked once)."""
        for flag, value in named:
            self._refuse_unknown(flag, value)
        uploads = list(dict.fromkeys(value for _, value in named if value in self.attachments))
        for value in uploads:
            await asyncio.to_thread(check_header, self.attachments[value], name=value)
        loop = asyncio.get_running_loop()
        pool = _decoder_pool()
        keys = await asyncio.gather(
            *(
                loop.run_in_executor(pool, partial(_decode_and_store, self.artifacts, self.attachments[v], v))
                for v in uploads
            )
        )
        return dict(zip(uploads, keys, strict=True))

    async def command(self, command: Command) -> Command:
        named = self._named(command)
        if not named:
            return command
        stored = await self._resolve_all(named)

        def key(value: str) -> str:
            return stored.get(value, value)

        if isinstance(command, Inpaint):
            return command.model_copy(update={"mask": key(command.mask or "")})
        draft = command.draft if isinstance(command, ScheduleAdd) else command
        assert isinstance(draft, Draft)
        update: dict[str, object] = {}
        if draft.sref:
            update["sref"] = tuple(key(v) for v in draft.sref)
        for flag in ("cref", "image", "sketch"):
            value = getattr(draft, flag)
            if value is not None:
                update[flag] = key(value)
        resolved = draft.model_copy(update=update) if update else draft
        if isinstance(command, ScheduleAdd):
            return command.model_copy(update={"draft": resolved})
        return resolved
