"""What the bench runs on: the offline tiny models, or the full-size SD 1.5 / SDXL architectures built
from their configs with random weights (speed does not depend on weight values), each with its random
``AutoencoderTiny`` draft decoder and a random full-size Real-ESRGAN x4plus upscaler."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

import torch

from engine.artifacts import ArtifactStore
from engine.catalog import PostSpec
from engine.registry import ModelRegistry
from engine.sd_family import Weights, build_random

ESRGAN_X4PLUS: dict[str, int] = {
    "num_in_ch": 3, "num_out_ch": 3, "num_feat": 64, "num_block": 23, "num_grow_ch": 32, "scale": 4,
}  # fmt: skip
DTYPES = {"float32": torch.float32, "float16": torch.float16, "bfloat16": torch.bfloat16}


@dataclass
class Setup:
    registry: ModelRegistry
    runner: Any
    model: str
    device: str
    dtype: torch.dtype
    store: ArtifactStore
    weights: Weights  # how the random weights were filled (engine.sd_family)


def random_weights_for(device: str) -> Weights:
    """One fast random fill per parameter; on a CPU every matrix shares one random block, so the
    full-size architectures fit in a few hundred MB (same shapes and FLOPs; caches flatter the speed)."""
    return "shared" if device == "cpu" else "random"


@contextlib.contextmanager
def default_dtype(dtype: torch.dtype) -> Iterator[None]:
    """Build modules directly in ``dtype`` (no float32 copy of a multi-GB model on the way)."""
    before = torch.get_default_dtype()
    torch.set_default_dtype(dtype)
    try:
        yield
    finally:
        torch.set_default_dtype(before)


def random_esrgan_post(scratch: Path, weights: Weights) -> PostSpec:
    """Real-ESRGAN x4plus (RRDBNet, 23 blocks) with random weights, saved where RealESRGANer loads it."""
    from engine.compat import install_functional_tensor_shim

    install_functional_tensor_shim()  # before basicsr's first import
    from basicsr.archs.rrdbnet_arch import RRDBNet

    network = build_random(lambda: RRDBNet(**ESRGAN_X4PLUS), 0, "cpu", weights)
    path = scratch / "esrgan_x4plus_random.pth"
    torch.save({"params_ema": network.state_dict()}, path)
    return PostSpec(
        esrgan=path, esrgan_arch=ESRGAN_X4PLUS, gfpgan=scratch / "unused.pth", gfpgan_arch={},
        facexlib_root=scratch, tile=256,
    )  # fmt: skip


def full_size_registry(arch: str, device: str, dtype: torch.dtype, scratch: Path) -> ModelRegistry:
    """A registry serving the random full-size ``arch`` ("sd15" or "sdxl") under that name."""
    from engine.sd_family import FULL_SIZE, build_draft_decoder, build_sd_pipeline

    config = FULL_SIZE[arch]
    weights = random_weights_for(device)
    with default_dtype(dtype):
        pipe = build_sd_pipeline(config, scratch / "tokenizer", device=device, weights=weights)
        draft_vae = build_draft_decoder(config, device=device, weights=weights)
    pipe.to(device=device, dtype=dtype)  # built in dtype already: this only checks every part is
    registry = ModelRegistry(post=random_esrgan_post(scratch, weights), device=device, dtype=dtype)
    registry.add_pipeline(arch, pipe, family=arch, draft_vae=draft_vae.to(device=device, dtype=dtype))
    return registry


def build_setup(arch: str, device: str, dtype: torch.dtype, scratch: Path, models: Path | None) -> Setup:
    from engine.pipeline_runner import DiffusersRunner

    if arch == "tiny":
        from engine.tiny import build_tiny_models
        from engine.tiny_catalog import tiny_registry

        registry = tiny_registry(build_tiny_models(models or scratch / "models"), device=device, dtype=dtype)
        model, weights = "tiny-sd", cast(Weights, "seeded")
    else:
        registry = full_size_registry(arch, device, dtype, scratch)
        model, weights = arch, random_weights_for(device)
    store = ArtifactStore(scratch / "artifacts")
    return Setup(registry, DiffusersRunner(registry), model, device, dtype, store, weights)
