"""``draftloop models pull``: fetch, once, everything a model's stages load (the hub repos of the base
model, draft decoder, IP-Adapter, ControlNets and LCM-LoRA, into the Hugging Face cache) and the
upscalers' release files (into the weights folder), verified by sha256 and resumable."""

from engine.pull.errors import IntegrityError, PullError, Unreachable
from engine.pull.sources import HubSource, PullPlan, ReleaseFile, model_sources, plan_for, upscaler_files

__all__ = [
    "HubSource",
    "IntegrityError",
    "PullError",
    "PullPlan",
    "ReleaseFile",
    "Unreachable",
    "model_sources",
    "plan_for",
    "upscaler_files",
]
