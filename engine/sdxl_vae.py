"""An fp16-safe VAE for the SDXL family (the sdxl-vae-fp16-fix layout: an AutoencoderKL whose activations
stay in fp16 range), so fp16 pipelines decode without upcasting the VAE to fp32 for every image."""

from __future__ import annotations

from typing import Any

from engine.runner import BadInput

SDXL_FAMILIES = frozenset({"sdxl", "sdxl-turbo", "tiny-sdxl"})


def load_fp16_vae(source: str, dtype: Any, *, local_files_only: bool) -> Any:
    """The AutoencoderKL at ``source`` (a folder or hub id), marked as needing no fp32 upcast."""
    from diffusers import AutoencoderKL

    try:
        vae = AutoencoderKL.from_pretrained(source, torch_dtype=dtype, local_files_only=local_files_only)
    except (OSError, ValueError) as exc:
        raise BadInput(f"The fp16-safe SDXL VAE '{source}' could not be loaded: {exc}") from exc
    vae.register_to_config(force_upcast=False)
    return vae
