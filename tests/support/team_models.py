"""A team's first-day model setup, built from the tiny models: a catalog of two models (a diffusers folder
and a single-file checkpoint) and a LoRA folder whose files carry training metadata."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from safetensors.torch import load_file, save_file

from engine.tiny import TinyPaths
from tests.support.ldm_checkpoint import write_single_file


@dataclass(frozen=True)
class TeamModels:
    catalog: Path
    lora_dir: Path
    checkpoint: Path


def write_lora(source: Path, dest: Path, metadata: dict[str, str]) -> Path:
    """A copy of the LoRA ``source`` with ``metadata`` in its safetensors header."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    save_file(load_file(str(source)), str(dest), metadata=metadata)
    return dest


def write_team_models(tiny: TinyPaths, root: Path) -> TeamModels:
    """``root/models.toml`` naming "studio" (the tiny SD folder, the default) and "house" (its single-file
    checkpoint), and ``root/loras`` with "ink" (tiny-sd, kohya tags), "glow" (no family) and "xl-grain"
    (an SDXL LoRA: refused on the tiny-sd models)."""
    checkpoint = write_single_file(tiny.sd, root / "checkpoints" / "house-v1.safetensors")
    loras = root / "loras"
    tags = {"ink_v1": {"inkwash": 40, "brush strokes": 25, "monochrome": 12, "paper": 3}}
    write_lora(
        tiny.lora,
        loras / "ink.safetensors",
        {"draftloop.family": "tiny-sd", "ss_tag_frequency": json.dumps(tags)},
    )
    write_lora(tiny.lora, loras / "glow.safetensors", {"modelspec.trigger_phrase": "soft glow, halo"})
    write_lora(tiny.lora, loras / "xl-grain.safetensors", {"ss_base_model_version": "sdxl_base_v1-0"})
    catalog = root / "models.toml"
    catalog.write_text(
        f"""default = "studio"

[models.studio]
source = "{tiny.sd}"
family = "tiny-sd"
draft_vae = "{tiny.taesd}"

[models.house]
checkpoint = "checkpoints/house-v1.safetensors"
family = "tiny-sd"
config = "{tiny.sd}"
"""
    )
    return TeamModels(catalog, loras, checkpoint)
