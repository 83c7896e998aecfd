"""What the engine can serve: model specs, the short names of well-known hub models, the
post-processing weights' spec, and a model's family guessed from its folder or hub id."""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class IPAdapterSpec:
    source: str
    subfolder: str
    weight_name: str


@dataclass(frozen=True)
class ModelSpec:
    source: str  # a diffusers folder, a hub id, or (single_file) one .safetensors / .ckpt checkpoint
    family: str  # a key of engine.presets.FAMILIES
    draft_vae: str | None = None  # AutoencoderTiny folder or hub id
    ip_adapter: IPAdapterSpec | None = None
    controlnets: Mapping[str, str] = field(default_factory=dict)  # control kind -> folder or hub id
    single_file: bool = False
    config: str | None = None  # single_file: the diffusers folder or hub id holding its component configs


@dataclass(frozen=True)
class PostSpec:
    esrgan: Path
    esrgan_arch: Mapping[str, Any]  # constructor kwargs of esrgan_net
    gfpgan: Path
    gfpgan_arch: Mapping[str, Any]
    facexlib_root: Path
    detector: str = "retinaface_resnet50"
    det_threshold: float = 0.97
    use_parse: bool = True  # facexlib's ParseNet mask when pasting faces back
    tile: int = 256
    esrgan_net: str = "RRDBNet"  # a basicsr ARCH_REGISTRY name: "RRDBNet" (x4plus) or "SRVGGNetCompact"


_SD15_IP = IPAdapterSpec("h94/IP-Adapter", "models", "ip-adapter_sd15.safetensors")
_SDXL_IP = IPAdapterSpec("h94/IP-Adapter", "sdxl_models", "ip-adapter_sdxl.safetensors")

# Short names for well-known hub models (used offline when they are in the local HF cache).
KNOWN_MODELS: dict[str, ModelSpec] = {
    "sd15": ModelSpec(
        "stable-diffusion-v1-5/stable-diffusion-v1-5",
        "sd15",
        "madebyollin/taesd",
        _SD15_IP,
        {"canny": "lllyasviel/control_v11p_sd15_canny", "lineart": "lllyasviel/control_v11p_sd15_lineart"},
    ),
    "sdxl": ModelSpec(
        "stabilityai/stable-diffusion-xl-base-1.0",
        "sdxl",
        "madebyollin/taesdxl",
        _SDXL_IP,
        {"canny": "diffusers/controlnet-canny-sdxl-1.0"},
    ),
    "sdxl-turbo": ModelSpec("stabilityai/sdxl-turbo", "sdxl-turbo", "madebyollin/taesdxl", _SDXL_IP),
    "flux": ModelSpec("black-forest-labs/FLUX.1-schnell", "flux-schnell"),
}

_FAMILY_BY_CLASS = {
    "StableDiffusionPipeline": "sd15",
    "StableDiffusionXLPipeline": "sdxl",
    "FluxPipeline": "flux",
}

DEFAULT_WEIGHTS_DIR = "~/.cache/draftloop/weights"


ESRGAN_X4PLUS = "RealESRGAN_x4plus.pth"
ESRGAN_GENERAL = "realesr-general-x4v3.pth"  # the compact SRVGGNetCompact upscaler, ~13x cheaper
_X4PLUS_ARCH = {
    "num_in_ch": 3,
    "num_out_ch": 3,
    "num_feat": 64,
    "num_block": 23,
    "num_grow_ch": 32,
    "scale": 4,
}
_GENERAL_ARCH = {
    "num_in_ch": 3,
    "num_out_ch": 3,
    "num_feat": 64,
    "num_conv": 32,
    "upscale": 4,
    "act_type": "prelu",
}


def default_post_spec(weights_dir: Path | str | None = None) -> PostSpec:
    """Real-ESRGAN and GFPGAN v1.4 under ``weights_dir`` (default: $DRAFTLOOP_WEIGHTS or
    ~/.cache/draftloop/weights): x4plus, or general-x4v3 when only that one is there."""
    root = weights_dir or os.environ.get("DRAFTLOOP_WEIGHTS", DEFAULT_WEIGHTS_DIR)
    weights = Path(root).expanduser()
    general_only = not (weights / ESRGAN_X4PLUS).exists() and (weights / ESRGAN_GENERAL).exists()
    return PostSpec(
        esrgan=weights / (ESRGAN_GENERAL if general_only else ESRGAN_X4PLUS),
        esrgan_net="SRVGGNetCompact" if general_only else "RRDBNet",
        esrgan_arch=dict(_GENERAL_ARCH if general_only else _X4PLUS_ARCH),
        gfpgan=weights / "GFPGANv1.4.pth",
        gfpgan_arch={
            "out_size": 512,
            "num_style_feat": 512,
            "channel_multiplier": 2,
            "decoder_load_path": None,
            "fix_decoder": False,
            "num_mlp": 8,
            "input_is_latent": True,
            "different_w": True,
            "narrow": 1,
            "sft_half": True,
        },
        facexlib_root=weights / "facexlib",
    )


def guess_family(hub_id: str) -> str:
    """The family a hub id or folder name suggests (sd15 when it suggests nothing)."""
    low = hub_id.lower()
    if "flux" in low:
        return "flux-schnell" if "schnell" in low else "flux"
    if "xl" in low and ("turbo" in low or "lightning" in low):
        return "sdxl-turbo"
    return "sdxl" if "xl" in low else "sd15"


def folder_spec(folder: Path) -> ModelSpec | None:
    """The spec of a diffusers folder (None when ``folder`` holds no model_index.json): the family comes
    from the pipeline class, refined by the folder's name (it tells sdxl-turbo and flux-schnell apart)."""
    index = folder / "model_index.json"
    if not index.is_file():
        return None
    family = _FAMILY_BY_CLASS.get(json.loads(index.read_text()).get("_class_name", ""), "sd15")
    guessed = guess_family(folder.resolve().name)
    if guessed.startswith(family):
        family = guessed
    return ModelSpec(str(folder), family)
