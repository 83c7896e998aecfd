"""Write a diffusers SD-family folder (the tiny one) as one original-layout (LDM) ``.safetensors``
checkpoint, the single file teams download from model sites: ``model.diffusion_model.*`` (UNet),
``first_stage_model.*`` (VAE), ``cond_stage_model.transformer.*`` (CLIP text encoder).

The key conversion is the inverse of diffusers' ``convert_ldm_*_checkpoint`` for a UNet with any
``layers_per_block`` and block count, so diffusers' ``from_single_file`` reads it back.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from safetensors.torch import load_file, save_file

_RESNET = {
    "norm1": "in_layers.0",
    "conv1": "in_layers.2",
    "norm2": "out_layers.0",
    "conv2": "out_layers.3",
    "time_emb_proj": "emb_layers.1",
    "conv_shortcut": "skip_connection",
}
_UNET_FIXED = {
    "time_embedding.linear_1": "time_embed.0",
    "time_embedding.linear_2": "time_embed.2",
    "conv_in": "input_blocks.0.0",
    "conv_norm_out": "out.0",
    "conv_out": "out.2",
}
_VAE_ATTENTION = {"group_norm": "norm", "to_q": "q", "to_k": "k", "to_v": "v", "to_out.0": "proj_out"}


def _resnet_tail(tail: str) -> str:
    layer, _, param = tail.rpartition(".")
    return f"{_RESNET.get(layer, layer)}.{param}"


def unet_to_ldm(state: dict[str, Any], config: dict[str, Any]) -> dict[str, Any]:
    per_block = int(config["layers_per_block"])
    has_attention = ["CrossAttn" in kind for kind in config["up_block_types"]]
    out: dict[str, Any] = {}
    for key, tensor in state.items():
        parts = key.split(".")
        stem = ".".join(parts[:-1])
        if stem in _UNET_FIXED:
            out[f"{_UNET_FIXED[stem]}.{parts[-1]}"] = tensor
            continue
        group = parts[0]
        if group == "down_blocks":
            block, kind, index = int(parts[1]), parts[2], int(parts[3])
            tail = ".".join(parts[4:])
            if kind == "downsamplers":
                slot = 1 + block * (per_block + 1) + per_block
                out[f"input_blocks.{slot}.0.op.{parts[-1]}"] = tensor
                continue
            slot = 1 + block * (per_block + 1) + index
            if kind == "resnets":
                out[f"input_blocks.{slot}.0.{_resnet_tail(tail)}"] = tensor
            else:
                out[f"input_blocks.{slot}.1.{tail}"] = tensor
        elif group == "mid_block":
            kind, index, tail = parts[1], int(parts[2]), ".".join(parts[3:])
            if kind == "resnets":
                out[f"middle_block.{2 * index}.{_resnet_tail(tail)}"] = tensor
            else:
                out[f"middle_block.1.{tail}"] = tensor
        elif group == "up_blocks":
            block, kind, index = int(parts[1]), parts[2], int(parts[3])
            tail = ".".join(parts[4:])
            if kind == "upsamplers":
                slot = block * (per_block + 1) + per_block
                where = 2 if has_attention[block] else 1
                out[f"output_blocks.{slot}.{where}.conv.{parts[-1]}"] = tensor
                continue
            slot = block * (per_block + 1) + index
            if kind == "resnets":
                out[f"output_blocks.{slot}.0.{_resnet_tail(tail)}"] = tensor
            else:
                out[f"output_blocks.{slot}.1.{tail}"] = tensor
        else:
            raise ValueError(f"no LDM name for UNet key {key}")
    return {f"model.diffusion_model.{key}": tensor for key, tensor in out.items()}


def vae_to_ldm(state: dict[str, Any], config: dict[str, Any]) -> dict[str, Any]:
    blocks = len(config["up_block_types"])
    out: dict[str, Any] = {}
    for key, tensor in state.items():
        new = key.replace("conv_norm_out", "norm_out").replace("conv_shortcut", "nin_shortcut")
        parts = new.split(".")
        if parts[1] == "down_blocks":
            kind = "block" if parts[3] == "resnets" else "downsample"
            index = [parts[4]] if kind == "block" else []
            new = ".".join([parts[0], "down", parts[2], kind, *index, *parts[5:]])
        elif parts[1] == "up_blocks":
            ldm_block = str(blocks - 1 - int(parts[2]))
            kind = "block" if parts[3] == "resnets" else "upsample"
            index = [parts[4]] if kind == "block" else []
            new = ".".join([parts[0], "up", ldm_block, kind, *index, *parts[5:]])
        elif parts[1] == "mid_block" and parts[2] == "resnets":
            new = ".".join([parts[0], "mid", f"block_{int(parts[3]) + 1}", *parts[4:]])
        elif parts[1] == "mid_block" and parts[2] == "attentions":
            tail = ".".join(parts[4:])
            layer, _, param = tail.rpartition(".")
            new = f"{parts[0]}.mid.attn_1.{_VAE_ATTENTION.get(layer, layer)}.{param}"
            if tensor.ndim == 2:  # the original attention uses 1×1 convolutions
                tensor = tensor[:, :, None, None]
        out[new] = tensor
    return {f"first_stage_model.{key}": tensor for key, tensor in out.items()}


def _clip_key(key: str) -> str:
    """The original CLIP name: transformers 5.6+ saves ``CLIPTextModel`` without its ``text_model.``."""
    return key if key.startswith("text_model.") else f"text_model.{key}"


def write_single_file(folder: Path, checkpoint: Path) -> Path:
    """The SD 1.x-layout single file of the diffusers folder ``folder`` (UNet, VAE, one CLIP encoder)."""

    def part(name: str) -> tuple[dict[str, Any], dict[str, Any]]:
        config = json.loads((folder / name / "config.json").read_text())
        weights = next(p for p in sorted((folder / name).glob("*.safetensors")))
        return load_file(str(weights)), config

    unet, unet_config = part("unet")
    vae, vae_config = part("vae")
    text, _ = part("text_encoder")
    tensors = {
        **unet_to_ldm(unet, unet_config),
        **vae_to_ldm(vae, vae_config),
        **{f"cond_stage_model.transformer.{_clip_key(key)}": value for key, value in text.items()},
    }
    checkpoint.parent.mkdir(parents=True, exist_ok=True)
    save_file({key: value.contiguous() for key, value in tensors.items()}, str(checkpoint))
    return checkpoint
