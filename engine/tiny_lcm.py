"""A tiny random-weight LCM-LoRA for the tiny SD model, so the few-step draft path (LoRA + LCMScheduler
at guidance 1) runs offline through the real diffusers code. Written once, next to the tiny models."""

from __future__ import annotations

from pathlib import Path

import torch

# the attention projections the published LCM-LoRAs adapt (a subset is enough for the code path)
_TARGETS = ("attn1.to_q", "attn1.to_k", "attn1.to_v", "attn1.to_out.0", "attn2.to_q", "attn2.to_out.0")


def build_tiny_lcm_lora(sd_folder: Path, path: Path, rank: int = 4) -> Path:
    """Write a peft-format UNet LoRA for the diffusers model in ``sd_folder`` to ``path`` (kept if there)."""
    if path.is_file():
        return path
    from diffusers import UNet2DConditionModel
    from safetensors.torch import save_file

    config = UNet2DConditionModel.load_config(str(sd_folder / "unet"))
    unet = UNet2DConditionModel.from_config(config)
    gen = torch.Generator().manual_seed(4)
    tensors: dict[str, torch.Tensor] = {}
    for name, module in unet.named_modules():
        if isinstance(module, torch.nn.Linear) and name.endswith(_TARGETS):
            tensors[f"unet.{name}.lora_A.weight"] = torch.randn(rank, module.in_features, generator=gen) * 0.1
            tensors[f"unet.{name}.lora_B.weight"] = (
                torch.randn(module.out_features, rank, generator=gen) * 0.1
            )
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(".part")
    save_file(tensors, str(partial))
    partial.replace(path)
    return path
