"""What each known model needs: the hub repos its stages load (and which part of each) and the
post-processing release files, with their published sha256."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from engine.catalog import ESRGAN_GENERAL, ESRGAN_X4PLUS, KNOWN_MODELS, ModelSpec, default_post_spec
from engine.pull.errors import PullError

HubKind = Literal["diffusers", "ip-adapter", "lora"]

DEFAULT_RELEASES_URL = "https://github.com"
UPSCALERS = "upscalers"

# The LCM-LoRA that turns a family's base model into a few-step draft model (families that are
# few-step already, or have none, are absent).
LCM_LORAS: dict[str, str] = {
    "sd15": "latent-consistency/lcm-lora-sdv1-5",
    "sdxl": "latent-consistency/lcm-lora-sdxl",
}


@dataclass(frozen=True)
class HubSource:
    """One hub repo and the part of it a stage loads."""

    repo_id: str
    kind: HubKind
    purpose: str  # what the engine uses it for, shown to the user
    subfolder: str | None = None  # ip-adapter: the folder holding the weights and image_encoder/
    weight_name: str | None = None  # ip-adapter: the adapter's weight file in that folder
    revision: str = "main"


@dataclass(frozen=True)
class ReleaseFile:
    """A file published as a release asset, fetched over plain HTTP from the releases base URL."""

    url_path: str  # relative to the releases base URL (github.com/... by default)
    dest: Path
    sha256: str | None
    size: int | None = None
    purpose: str = ""

    @property
    def name(self) -> str:
        return self.dest.name


@dataclass(frozen=True)
class PullPlan:
    hub: list[HubSource] = field(default_factory=list)
    releases: list[ReleaseFile] = field(default_factory=list)


def releases_base_url() -> str:
    """Where release files come from: ``DRAFTLOOP_RELEASES_URL`` (a mirror) or github.com."""
    return os.environ.get("DRAFTLOOP_RELEASES_URL", DEFAULT_RELEASES_URL).rstrip("/")


def hub_endpoint() -> str:
    """The Hugging Face endpoint, read at call time (``HF_ENDPOINT``, a mirror) rather than at import."""
    return os.environ.get("HF_ENDPOINT", "https://huggingface.co").rstrip("/")


def model_sources(spec: ModelSpec, lcm_lora: str | None = None) -> list[HubSource]:
    """The hub repos a model's stages load: base, draft decoder, IP-Adapter, ControlNets, LCM-LoRA."""
    sources = [HubSource(spec.source, "diffusers", "base model")]
    if spec.draft_vae is not None:
        sources.append(HubSource(spec.draft_vae, "diffusers", "draft decoder"))
    if spec.ip_adapter is not None:
        ip = spec.ip_adapter
        sources.append(HubSource(ip.source, "ip-adapter", "IP-Adapter", ip.subfolder, ip.weight_name))
    for kind, repo in sorted(spec.controlnets.items()):
        if all(existing.repo_id != repo for existing in sources):
            sources.append(HubSource(repo, "diffusers", f"{kind} ControlNet"))
    if lcm_lora is not None:
        sources.append(HubSource(lcm_lora, "lora", "LCM-LoRA for few-step drafts"))
    return sources


def upscaler_files(weights_dir: Path | None = None) -> list[ReleaseFile]:
    """Real-ESRGAN x4plus and general-x4v3, GFPGAN v1.4 and facexlib's detector and parser, where the
    engine's post-processing spec looks for them."""
    post = default_post_spec(weights_dir)
    esrgan_dir = post.esrgan.parent
    return [
        ReleaseFile(
            "xinntao/Real-ESRGAN/releases/download/v0.1.0/RealESRGAN_x4plus.pth",
            esrgan_dir / ESRGAN_X4PLUS,
            "4fa0d38905f75ac06eb49a7951b426670021be3018265fd191d2125df9d682f1",
            67_040_989,
            "Real-ESRGAN x4plus upscaler",
        ),
        ReleaseFile(
            "xinntao/Real-ESRGAN/releases/download/v0.2.5.0/realesr-general-x4v3.pth",
            esrgan_dir / ESRGAN_GENERAL,
            "8dc7edb9ac80ccdc30c3a5dca6616509367f05fbc184ad95b731f05bece96292",
            None,
            "Real-ESRGAN general-x4v3 upscaler (compact)",
        ),
        ReleaseFile(
            "TencentARC/GFPGAN/releases/download/v1.3.0/GFPGANv1.4.pth",
            post.gfpgan,
            "e2cd4703ab14f4d01fd1383a8a8b266f9a5833dacee8e6a79d3bf21a1b6be5ad",
            348_632_874,
            "GFPGAN v1.4 face restorer",
        ),
        ReleaseFile(
            "xinntao/facexlib/releases/download/v0.1.0/detection_Resnet50_Final.pth",
            post.facexlib_root / "detection_Resnet50_Final.pth",
            "6d1de9c2944f2ccddca5f5e010ea5ae64a39845a86311af6fdf30841b0a5a16d",
            109_497_761,
            "facexlib RetinaFace face detector",
        ),
        ReleaseFile(
            "xinntao/facexlib/releases/download/v0.2.2/parsing_parsenet.pth",
            post.facexlib_root / "parsing_parsenet.pth",
            "3d558d8d0e42c20224f13cf5a29c79eba2d59913419f945545d8cf7b72920de2",
            85_331_193,
            "facexlib ParseNet face parser",
        ),
    ]


def known_names() -> list[str]:
    return [*sorted(KNOWN_MODELS), UPSCALERS]


def plan_for(names: list[str], weights_dir: Path | None = None) -> PullPlan:
    """Everything the named models (or ``upscalers``) need, each repo and file once."""
    plan = PullPlan()
    for name in names:
        if name == UPSCALERS:
            for release in upscaler_files(weights_dir):
                if release not in plan.releases:
                    plan.releases.append(release)
            continue
        spec = KNOWN_MODELS.get(name)
        if spec is None:
            raise PullError(f"unknown model '{name}': known names are {', '.join(known_names())}")
        for source in model_sources(spec, LCM_LORAS.get(spec.family)):
            if source not in plan.hub:
                plan.hub.append(source)
    return plan
