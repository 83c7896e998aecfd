"""The post-processing models (Real-ESRGAN upscaler, GFPGAN face restorers), built on first use."""

from __future__ import annotations

from typing import Any

from engine.catalog import PostSpec


class PostModels:
    def __init__(self, spec: PostSpec, device: str) -> None:
        self.spec = spec
        self.device = device
        self._built: dict[str, Any] = {}

    def upscaler(self) -> Any:
        if "esrgan" not in self._built:
            from engine.stages.post import build_upscaler

            self._built["esrgan"] = build_upscaler(self.spec, self.device)
        return self._built["esrgan"]

    def face_restorer(self, max_faces: int) -> Any:
        key = f"gfpgan:{max_faces}"
        if key not in self._built:
            from engine.stages.post import build_face_restorer

            self._built[key] = build_face_restorer(self.spec, self.device, max_faces=max_faces)
        return self._built[key]
