"""A loaded model's state: its base pipeline, the pipelines derived from it, and the LoRA and IP-Adapter
weights injected into its shared denoiser (tracked per model, since every derived pipeline sees them)."""

from __future__ import annotations

import contextlib
import hashlib
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from engine.api import LoraSpec
from engine.catalog import ModelSpec
from engine.runner import BadInput


@dataclass
class LoadedModel:
    spec: ModelSpec
    base: Any
    pipes: dict[tuple[str, bool, str | None], Any] = field(default_factory=dict)
    loras: set[str] = field(default_factory=set)
    ip_loaded: bool = False
    draft_vae: Any = None
    controlnets: dict[str, Any] = field(default_factory=dict)
    dtype: Any = None


def adapter_name(name: str) -> str:
    """A module-safe adapter name, unique per LoRA name ("a-b" and "a_b" must not share one)."""
    digest = hashlib.sha1(name.encode()).hexdigest()[:8]
    return re.sub(r"\W", "_", name) + "_" + digest


def apply_loras(
    loaded: LoadedModel, model: str, loras: Sequence[LoraSpec], files: Mapping[str, Path]
) -> None:
    """Activate exactly ``loras`` (with their weights) on ``model``, loading each from ``files`` once."""
    for lora in loras:
        if lora.name not in files:
            known = ", ".join(sorted(files)) or "none"
            raise BadInput(f"Unknown LoRA '{lora.name}'. Available: {known}")
    names = [adapter_name(lora.name) for lora in loras]
    for lora, adapter in zip(loras, names, strict=True):
        if adapter not in loaded.loras:
            try:
                loaded.base.load_lora_weights(str(files[lora.name]), adapter_name=adapter)
            except (OSError, ValueError, RuntimeError, KeyError) as exc:
                # a half-injected adapter would make every later load of this name collide
                with contextlib.suppress(Exception):
                    loaded.base.delete_adapters(adapter)
                raise BadInput(f"LoRA '{lora.name}' could not be loaded for model '{model}'.") from exc
            loaded.loras.add(adapter)
    if names:
        loaded.base.enable_lora()
        loaded.base.set_adapters(names, adapter_weights=[lora.weight for lora in loras])
    elif loaded.loras:
        loaded.base.disable_lora()


def set_ip_adapter(
    loaded: LoadedModel, model: str, pipe: Any, scale: float | None, *, local_files_only: bool
) -> None:
    """Load the model's IP-Adapter and set its scale on ``pipe``, or unload it when scale is None."""
    if scale is None:
        if loaded.ip_loaded:
            loaded.base.unload_ip_adapter()
            loaded.ip_loaded = False
            for other in loaded.pipes.values():  # derived pipelines hold their own reference
                if other is not loaded.base and getattr(other, "image_encoder", None) is not None:
                    other.register_modules(image_encoder=None)
        return
    ip = loaded.spec.ip_adapter
    if ip is None:
        raise BadInput(f"Model '{model}' has no IP-Adapter for style or character references.")
    if not loaded.ip_loaded:
        loaded.base.load_ip_adapter(
            ip.source, subfolder=ip.subfolder, weight_name=ip.weight_name, local_files_only=local_files_only
        )
        loaded.ip_loaded = True
    if getattr(pipe, "image_encoder", None) is not loaded.base.image_encoder:
        pipe.register_modules(
            image_encoder=loaded.base.image_encoder, feature_extractor=loaded.base.feature_extractor
        )
    pipe.set_ip_adapter_scale(scale)
