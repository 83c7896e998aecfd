"""Presets per model family (data), and how a job resolves to a concrete size, steps and sampler."""

from __future__ import annotations

from dataclasses import dataclass
from typing import NotRequired, TypedDict

from engine.api import Job


class Preset(TypedDict):
    long_side: int
    steps: int
    guidance: float
    scheduler: str
    tiny_vae: bool
    spacing: NotRequired[str]  # timestep spacing forced on the scheduler (else the model's own)
    speed_lora: NotRequired[bool]  # runs with the family's few-step LoRA (SPEED_LORAS), else FALLBACK


class Family(TypedDict):
    multiple: int  # width and height are rounded to this
    min_side: int
    max_side: int
    presets: dict[str, Preset]


FAMILIES: dict[str, Family] = {
    "tiny-sd": {
        "multiple": 8,
        "min_side": 16,
        "max_side": 256,
        "presets": {
            "draft": {
                "long_side": 48,
                "steps": 2,
                "guidance": 1.0,
                "scheduler": "lcm",
                "tiny_vae": True,
                "speed_lora": True,
            },
            "draft-dpm": {
                "long_side": 48,
                "steps": 2,
                "guidance": 5.0,
                "scheduler": "euler",
                "tiny_vae": True,
            },
            "preview": {
                "long_side": 64,
                "steps": 3,
                "guidance": 5.0,
                "scheduler": "euler",
                "tiny_vae": False,
            },
            "final": {"long_side": 64, "steps": 4, "guidance": 5.0, "scheduler": "dpm++", "tiny_vae": False},
        },
    },
    "tiny-sdxl": {
        "multiple": 8,
        "min_side": 16,
        "max_side": 256,
        "presets": {
            "draft": {"long_side": 48, "steps": 2, "guidance": 5.0, "scheduler": "euler", "tiny_vae": True},
            "preview": {
                "long_side": 64,
                "steps": 3,
                "guidance": 5.0,
                "scheduler": "euler",
                "tiny_vae": False,
            },
            "final": {"long_side": 64, "steps": 4, "guidance": 5.0, "scheduler": "dpm++", "tiny_vae": False},
        },
    },
    "sd15": {
        "multiple": 64,
        "min_side": 256,
        "max_side": 1024,
        "presets": {
            # LCM-LoRA: 4 steps at guidance 1 (no classifier-free guidance, so no doubled batch)
            "draft": {
                "long_side": 512,
                "steps": 4,
                "guidance": 1.0,
                "scheduler": "lcm",
                "tiny_vae": True,
                "speed_lora": True,
            },
            "draft-dpm": {
                "long_side": 512,
                "steps": 8,
                "guidance": 6.0,
                "scheduler": "dpm++",
                "tiny_vae": True,
            },
            "preview": {
                "long_side": 512,
                "steps": 20,
                "guidance": 7.0,
                "scheduler": "dpm++",
                "tiny_vae": False,
            },
            "final": {
                "long_side": 768,
                "steps": 30,
                "guidance": 7.0,
                "scheduler": "dpm++",
                "tiny_vae": False,
            },
        },
    },
    "sdxl": {
        "multiple": 64,
        "min_side": 512,
        "max_side": 2048,
        "presets": {
            "draft": {
                "long_side": 768,
                "steps": 4,
                "guidance": 1.0,
                "scheduler": "lcm",
                "tiny_vae": True,
                "speed_lora": True,
            },
            "draft-dpm": {
                "long_side": 768,
                "steps": 10,
                "guidance": 5.0,
                "scheduler": "dpm++",
                "tiny_vae": True,
            },
            "preview": {
                "long_side": 1024,
                "steps": 20,
                "guidance": 6.0,
                "scheduler": "dpm++",
                "tiny_vae": False,
            },
            "final": {
                "long_side": 1024,
                "steps": 30,
                "guidance": 6.5,
                "scheduler": "dpm++",
                "tiny_vae": False,
            },
        },
    },
    "sdxl-turbo": {
        "multiple": 64,
        "min_side": 512,
        "max_side": 1536,
        "presets": {
            "draft": {
                "long_side": 512,
                "steps": 1,
                "guidance": 0.0,
                "scheduler": "euler_a",
                "spacing": "trailing",
                "tiny_vae": True,
            },
            "preview": {
                "long_side": 768,
                "steps": 2,
                "guidance": 0.0,
                "scheduler": "euler_a",
                "spacing": "trailing",
                "tiny_vae": False,
            },
            "final": {
                "long_side": 1024,
                "steps": 4,
                "guidance": 0.0,
                "scheduler": "euler_a",
                "spacing": "trailing",
                "tiny_vae": False,
            },
        },
    },
    "flux": {
        "multiple": 64,
        "min_side": 512,
        "max_side": 2048,
        "presets": {
            "draft": {"long_side": 768, "steps": 4, "guidance": 3.5, "scheduler": "flow", "tiny_vae": False},
            "preview": {
                "long_side": 1024,
                "steps": 12,
                "guidance": 3.5,
                "scheduler": "flow",
                "tiny_vae": False,
            },
            "final": {
                "long_side": 1024,
                "steps": 28,
                "guidance": 3.5,
                "scheduler": "flow",
                "tiny_vae": False,
            },
        },
    },
    # timestep-distilled: 1 to 4 steps, no guidance (the model has no guidance embedding)
    "flux-schnell": {
        "multiple": 64,
        "min_side": 512,
        "max_side": 2048,
        "presets": {
            "draft": {"long_side": 768, "steps": 2, "guidance": 0.0, "scheduler": "flow", "tiny_vae": False},
            "preview": {
                "long_side": 1024,
                "steps": 4,
                "guidance": 0.0,
                "scheduler": "flow",
                "tiny_vae": False,
            },
            "final": {"long_side": 1024, "steps": 4, "guidance": 0.0, "scheduler": "flow", "tiny_vae": False},
        },
    },
}

# The few-step LoRA of each family (hub repo, weight file) for presets with "speed_lora"; the tiny
# family's is written next to the tiny models (engine.tiny_lcm). A preset whose family has none, or
# whose LoRA is not on this machine, runs as its FALLBACK preset instead.
SPEED_LORAS: dict[str, tuple[str, str]] = {
    "sd15": ("latent-consistency/lcm-lora-sdv1-5", "pytorch_lora_weights.safetensors"),
    "sdxl": ("latent-consistency/lcm-lora-sdxl", "pytorch_lora_weights.safetensors"),
}
SPEED_LORA_NAME = "draftloop-lcm"  # the adapter name it is loaded under
FALLBACK = {"draft": "draft-dpm"}

# img2img strengths by kind when the job sets none
DEFAULT_STRENGTH: dict[str, float] = {
    "variation": 0.6,
    "img2img": 0.6,
    "refine": 0.4,
    "inpaint": 0.9,
    "outpaint": 1.0,
}


@dataclass(frozen=True)
class Resolved:
    width: int
    height: int
    steps: int
    guidance: float
    scheduler: str
    tiny_vae: bool
    spacing: str | None = None
    speed_lora: bool = False


def _round(value: float, multiple: int, lo: int, hi: int) -> int:
    rounded = int(value / multiple + 0.5) * multiple
    return max(lo, min(hi, rounded))


def size_for(aspect: tuple[int, int], long_side: int, family: str) -> tuple[int, int]:
    fam = FAMILIES[family]
    aw, ah = max(1, aspect[0]), max(1, aspect[1])
    if aw >= ah:
        w, h = float(long_side), long_side * ah / aw
    else:
        w, h = long_side * aw / ah, float(long_side)
    lo, hi, mult = fam["min_side"], fam["max_side"], fam["multiple"]
    return _round(w, mult, lo, hi), _round(h, mult, lo, hi)


def resolve(job: Job, family: str) -> Resolved:
    """The preset for (family, job.preset), then the job's own overrides."""
    if family not in FAMILIES:
        raise KeyError(f"no presets for model family {family!r}")
    fam = FAMILIES[family]
    presets = fam["presets"]
    preset = presets.get(job.preset) or presets["draft"]  # "draft-dpm" where the family has one draft
    width, height = size_for(job.aspect, preset["long_side"], family)
    mult, top = fam["multiple"], fam["max_side"]
    if job.width is not None and job.height is not None:
        width, height = _round(job.width, mult, mult, top), _round(job.height, mult, mult, top)
    elif job.width is not None:
        width = _round(job.width, mult, mult, top)
        height = _round(job.width * job.aspect[1] / max(1, job.aspect[0]), mult, mult, top)
    elif job.height is not None:
        height = _round(job.height, mult, mult, top)
        width = _round(job.height * job.aspect[0] / max(1, job.aspect[1]), mult, mult, top)
    return Resolved(
        width=width,
        height=height,
        steps=job.steps if job.steps is not None else preset["steps"],
        guidance=job.guidance if job.guidance is not None else preset["guidance"],
        scheduler=preset["scheduler"],
        tiny_vae=preset["tiny_vae"],
        spacing=preset.get("spacing"),
        speed_lora=preset.get("speed_lora", False),
    )
