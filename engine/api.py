"""The wire contract between the bot and the engine: job and result schemas, stream names.

Importable without torch. Everything on the wire is JSON (one ``data`` field per stream entry).
"""

from __future__ import annotations

import enum
import hashlib
from collections.abc import Mapping
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from engine.keys import (  # noqa: F401  (the names the bot shares with the engine, re-exported)
    BOT_GROUP,
    DEAD_LETTER_STREAM,
    ENGINE_GROUP,
    LANES,
    RESULTS_STREAM,
    RETURNED_CONSUMER,
    STATS_KEY,
    WORKERS_KEY,
    cancel_key,
    jobs_stream,
    progress_channel,
)

PAYLOAD_FIELD = "data"  # the one field of every stream entry


# --- jobs ---------------------------------------------------------------------------------------


class JobKind(enum.StrEnum):
    DRAFT = "draft"  # txt2img, optionally with references / LoRA / control image
    VARIATION = "variation"  # img2img of a candidate, new seeds
    REFINE = "refine"  # hires img2img of a winner, same seed, final preset and size
    IMG2IMG = "img2img"  # img2img of an uploaded image
    INPAINT = "inpaint"
    OUTPAINT = "outpaint"
    UPSCALE = "upscale"
    RESTORE_FACES = "restore_faces"


class LoraSpec(BaseModel):
    model_config = ConfigDict(frozen=True)
    name: str
    weight: float = 0.8


class MaskSpec(BaseModel):
    """Exactly one of: an uploaded mask image, a box in pixels of the source image, or faces."""

    model_config = ConfigDict(frozen=True)
    image: str | None = None  # artifact key of a mask image (white = repaint)
    box: tuple[int, int, int, int] | None = None  # x, y, w, h
    faces: bool = False


class Job(BaseModel):
    model_config = ConfigDict(frozen=True)

    job_id: str
    campaign_id: str
    kind: JobKind
    lane: Literal["interactive", "scheduled"] = "interactive"
    model: str = "tiny-sd"
    prompt: str = ""
    negative: str = ""
    seeds: list[int] = Field(default_factory=lambda: [0])  # one output image per seed
    # The engine resolves size, steps, guidance, scheduler and decoder from its preset table for the
    # model's family; the fields below override the preset when set.
    # "draft" is few-step (LCM-LoRA) where the family has one; "draft-dpm" the classic multi-step draft
    preset: Literal["draft", "draft-dpm", "preview", "final"] = "draft"
    aspect: tuple[int, int] = (1, 1)  # width:height
    width: int | None = None
    height: int | None = None
    steps: int | None = None
    guidance: float | None = None
    strength: float | None = None  # img2img / variation / refine / inpaint
    init_image: str | None = None  # artifact key
    mask: MaskSpec | None = None
    zoom: float | None = None  # outpaint: zoom out factor (> 1)
    pan: Literal["left", "right", "up", "down"] | None = None
    scale: int | None = None  # upscale factor: 2 or 4
    face_restore: bool = False
    loras: list[LoraSpec] = Field(default_factory=list)
    style_refs: list[str] = Field(default_factory=list)  # artifact keys (a mood board)
    style_weight: float = 0.6
    character_ref: str | None = None
    control_image: str | None = None  # sketch / line art artifact key
    control_kind: Literal["canny", "lineart"] | None = None
    created_at: float = 0.0
    user: str = ""  # who asked for it: workers take turns between users within a lane


# --- results ------------------------------------------------------------------------------------


class ImageOut(BaseModel):
    model_config = ConfigDict(frozen=True)
    artifact: str  # artifact key (content address)
    seed: int
    width: int
    height: int
    score: float | None = None  # aesthetic estimate on a 1-10 scale (drafts), None where not scored


class Result(BaseModel):
    model_config = ConfigDict(frozen=True)

    job_id: str
    campaign_id: str
    kind: JobKind
    ok: bool
    images: list[ImageOut] = Field(default_factory=list)
    error: str | None = None  # a clear reason a user can read, when not ok
    device_seconds: float = 0.0
    batch_size: int = 1
    worker: str = ""
    attempts: int = 1


class Progress(BaseModel):
    job_id: str
    campaign_id: str
    step: int
    total: int


class LoraOffer(BaseModel):
    """A LoRA a worker serves: its base family (None: unknown, offered for every model) and trigger words."""

    model_config = ConfigDict(frozen=True)
    name: str
    family: str | None = None
    triggers: list[str] = Field(default_factory=list)


# model families whose LoRAs are interchangeable (a LoRA trained on SDXL works on SDXL-Turbo)
_LORA_BASE = {"sdxl-turbo": "sdxl", "flux-schnell": "flux"}


def lora_base(family: str) -> str:
    return _LORA_BASE.get(family, family)


def lora_fits(lora_family: str | None, model_family: str) -> bool:
    """Whether a LoRA trained on ``lora_family`` may be used with a model of ``model_family``."""
    return lora_family is None or lora_base(lora_family) == lora_base(model_family)


class WorkerBeat(BaseModel):
    worker: str
    device: str
    model: str
    at: float
    busy: bool = False
    batch_size: int = 0
    models: list[str] = Field(default_factory=list)  # names this worker knows (paths and hub ids also work)
    load_seconds: float = 0.0  # loading and warming up models so far (never charged to a job)
    compile_seconds: float = 0.0  # torch.compile so far
    families: dict[str, str] = Field(default_factory=dict)  # model name -> family
    loras: list[LoraOffer] = Field(default_factory=list)


def encode(model: BaseModel) -> dict[str, str]:
    return {PAYLOAD_FIELD: model.model_dump_json()}


def _payload(fields: Mapping[bytes, bytes] | Mapping[str, str]) -> str | bytes:
    for key, value in fields.items():
        if key in (PAYLOAD_FIELD, PAYLOAD_FIELD.encode()):
            return value
    raise ValueError(f"stream entry has no {PAYLOAD_FIELD!r} field")


def decode_job(fields: Mapping[bytes, bytes] | Mapping[str, str]) -> Job:
    return Job.model_validate_json(_payload(fields))


def decode_result(fields: Mapping[bytes, bytes] | Mapping[str, str]) -> Result:
    return Result.model_validate_json(_payload(fields))


def artifact_key(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()
