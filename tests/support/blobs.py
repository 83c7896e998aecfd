"""An in-memory artifact store for stage tests: what the worker's ArtifactStore does, without the disk."""

from __future__ import annotations

import io
from collections.abc import Callable

from PIL import Image

from engine.api import artifact_key
from engine.runner import RunContext


class Store:
    def __init__(self) -> None:
        self.blobs: dict[str, bytes] = {}

    def put(self, data: bytes) -> str:
        key = artifact_key(data)
        self.blobs[key] = data
        return key

    def put_image(self, img: Image.Image) -> str:
        buf = io.BytesIO()
        img.save(buf, format="PNG")
        return self.put(buf.getvalue())

    def ctx(self, **kwargs: Callable[..., object]) -> RunContext:
        return RunContext(load_artifact=self.blobs.__getitem__, **kwargs)  # type: ignore[arg-type]
