"""The offline tiny models (engine.tiny) as registry specs, and a registry serving them."""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from engine.catalog import IPAdapterSpec, ModelSpec, PostSpec
from engine.loras import LoraFile
from engine.registry import ModelRegistry
from engine.tiny import (
    DETECTOR,
    ESRGAN_NET,
    IP_ADAPTER_SUBFOLDER,
    IP_ADAPTER_WEIGHT,
    SDXL_IP_ADAPTER_SUBFOLDER,
    SDXL_IP_ADAPTER_WEIGHT,
    TinyPaths,
)


def tiny_specs(paths: TinyPaths) -> tuple[dict[str, ModelSpec], PostSpec, dict[str, Path]]:
    """The tiny models by name ("tiny-sd", "tiny-sdxl"), their post-processing spec, and their LoRAs."""
    models = {
        "tiny-sd": ModelSpec(
            str(paths.sd),
            "tiny-sd",
            str(paths.taesd),
            IPAdapterSpec(str(paths.ip_adapter), IP_ADAPTER_SUBFOLDER, IP_ADAPTER_WEIGHT),
            {"canny": str(paths.controlnet), "lineart": str(paths.controlnet)},
        ),
        "tiny-sdxl": ModelSpec(
            str(paths.sdxl),
            "tiny-sdxl",
            str(paths.taesdxl),
            IPAdapterSpec(str(paths.sdxl_ip_adapter), SDXL_IP_ADAPTER_SUBFOLDER, SDXL_IP_ADAPTER_WEIGHT),
            {"canny": str(paths.sdxl_controlnet), "lineart": str(paths.sdxl_controlnet)},
        ),
    }
    post = PostSpec(
        esrgan=paths.esrgan,
        esrgan_net=ESRGAN_NET,
        esrgan_arch=json.loads(paths.esrgan_arch.read_text()),
        gfpgan=paths.gfpgan,
        gfpgan_arch=json.loads(paths.gfpgan_arch.read_text()),
        facexlib_root=paths.facexlib,
        detector=DETECTOR,
        det_threshold=0.0,
        use_parse=False,
        tile=32,
    )
    return models, post, {"tiny-style": paths.lora}


def tiny_registry(
    paths: TinyPaths,
    *,
    models: Mapping[str, ModelSpec] | None = None,
    loras: Mapping[str, Path | LoraFile] | None = None,
    **kwargs: Any,
) -> ModelRegistry:
    """A registry serving the tiny models, their LoRA and post-processing weights, plus ``models`` and
    ``loras`` (a catalog's, a LoRA folder's); ``kwargs`` go to ModelRegistry (device, dtype, ...)."""
    tiny_models, post, tiny_loras = tiny_specs(paths)
    all_loras: dict[str, Path | LoraFile] = {**tiny_loras, **(loras or {})}
    return ModelRegistry({**tiny_models, **(models or {})}, loras=all_loras, post=post, **kwargs)
