"""The recipe every PNG the engine writes carries in its text chunks, so an image file alone says how it
was made: our own keys (``draftloop:prompt``, ``draftloop:seed``...) and the ``parameters`` chunk that
AUTOMATIC1111's web UI writes and that other tools (ComfyUI, InvokeAI, civitai, exif readers) read.

Torch-free (PIL's ``PngInfo`` is built in ``engine.images``), so the bot can read recipes back too.
"""

from __future__ import annotations

from dataclasses import dataclass

from engine.api import Job
from engine.presets import Resolved

KEY_PREFIX = "draftloop:"
PARAMETERS_KEY = "parameters"  # the A1111-style chunk

# the engine's scheduler names, as A1111 names its samplers
SAMPLER_NAMES = {
    "euler": "Euler",
    "euler_a": "Euler a",
    "dpm++": "DPM++ 2M",
    "dpm++_sde": "DPM++ SDE",
    "ddim": "DDIM",
    "lcm": "LCM",
    "unipc": "UniPC",
    "flow": "Euler",
}


@dataclass(frozen=True)
class Recipe:
    prompt: str
    negative: str
    seed: int
    model: str
    kind: str
    campaign: str
    steps: int | None = None
    sampler: str | None = None
    guidance: float | None = None
    strength: float | None = None
    parent: str | None = None  # the artifact key of the image this one was made from
    width: int = 0
    height: int = 0

    def chunks(self) -> dict[str, str]:
        """The text chunks, ours first, then ``parameters``."""
        ours: dict[str, str | int | float | None] = {
            "prompt": self.prompt,
            "negative": self.negative,
            "seed": self.seed,
            "model": self.model,
            "steps": self.steps,
            "sampler": self.sampler,
            "guidance": self.guidance,
            "strength": self.strength,
            "parent": self.parent,
            "campaign": self.campaign,
            "stage": self.kind,
        }
        out = {KEY_PREFIX + key: str(value) for key, value in ours.items() if value is not None}
        out[PARAMETERS_KEY] = self.parameters()
        return out

    def parameters(self) -> str:
        """The prompt, ``Negative prompt: …``, then ``Steps: 4, Sampler: …, Seed: …, Model: …``."""
        fields: list[tuple[str, object]] = []
        if self.steps is not None:
            fields.append(("Steps", self.steps))
        if self.sampler is not None:
            fields.append(("Sampler", SAMPLER_NAMES.get(self.sampler, self.sampler)))
        if self.guidance is not None:
            fields.append(("CFG scale", f"{self.guidance:g}"))
        fields.append(("Seed", self.seed))
        if self.width and self.height:
            fields.append(("Size", f"{self.width}x{self.height}"))
        fields.append(("Model", self.model))
        if self.strength is not None:
            fields.append(("Denoising strength", f"{self.strength:g}"))
        lines = [self.prompt.replace("\n", " ")]
        if self.negative:
            lines.append("Negative prompt: " + self.negative.replace("\n", " "))
        lines.append(", ".join(f"{name}: {_plain(value)}" for name, value in fields))
        return "\n".join(lines)


def _plain(value: object) -> str:
    """A1111 separates fields by ", ": a value holding one is quoted."""
    text = str(value)
    return f'"{text}"' if "," in text or ":" in text else text


def recipe_for(
    job: Job,
    seed: int,
    width: int,
    height: int,
    sampled: Resolved | None = None,
) -> Recipe:
    """The recipe of one output image of ``job``; ``sampled``: the steps, sampler and guidance the stage
    resolved (none for upscales and face restores)."""
    return Recipe(
        prompt=job.prompt,
        negative=job.negative,
        seed=seed,
        model=job.model,
        kind=job.kind.value,
        campaign=job.campaign_id,
        steps=sampled.steps if sampled is not None else job.steps,
        sampler=sampled.scheduler if sampled is not None else None,
        guidance=sampled.guidance if sampled is not None else job.guidance,
        strength=job.strength,
        parent=job.init_image,
        width=width,
        height=height,
    )


def read_recipe(text_chunks: dict[str, str]) -> dict[str, str]:
    """Our keys from a PNG's text chunks (PIL's ``Image.text``), without the prefix."""
    return {k[len(KEY_PREFIX) :]: v for k, v in text_chunks.items() if k.startswith(KEY_PREFIX)}
