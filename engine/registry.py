"""Model registry: names -> loaded diffusers pipelines (one copy of the weights per model), LoRA and
IP-Adapter state, and the post-processing models (Real-ESRGAN, GFPGAN)."""

from __future__ import annotations

import contextlib
import gc
import hashlib
import json
import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from engine.api import LoraSpec
from engine.compile import DEFAULT_BACKEND, check_mode, compile_pipeline
from engine.runner import BadInput
from engine.tiny import (
    DETECTOR,
    ESRGAN_NET,
    IP_ADAPTER_SUBFOLDER,
    IP_ADAPTER_WEIGHT,
    SDXL_IP_ADAPTER_SUBFOLDER,
    SDXL_IP_ADAPTER_WEIGHT,
    TinyPaths,
)

Mode = Literal["txt2img", "img2img", "inpaint"]


@dataclass(frozen=True)
class IPAdapterSpec:
    source: str
    subfolder: str
    weight_name: str


@dataclass(frozen=True)
class ModelSpec:
    source: str  # a diffusers folder or a hub id
    family: str  # a key of engine.presets.FAMILIES
    draft_vae: str | None = None  # AutoencoderTiny folder or hub id
    ip_adapter: IPAdapterSpec | None = None
    controlnets: Mapping[str, str] = field(default_factory=dict)  # control kind -> folder or hub id


@dataclass(frozen=True)
class PostSpec:
    esrgan: Path
    esrgan_arch: Mapping[str, Any]  # constructor kwargs of esrgan_net
    gfpgan: Path
    gfpgan_arch: Mapping[str, Any]
    facexlib_root: Path
    detector: str = "retinaface_resnet50"
    det_threshold: float = 0.97
    use_parse: bool = True  # facexlib's ParseNet mask when pasting faces back
    tile: int = 256
    esrgan_net: str = "RRDBNet"  # a basicsr ARCH_REGISTRY name: "RRDBNet" (x4plus) or "SRVGGNetCompact"


_SD15_IP = IPAdapterSpec("h94/IP-Adapter", "models", "ip-adapter_sd15.safetensors")
_SDXL_IP = IPAdapterSpec("h94/IP-Adapter", "sdxl_models", "ip-adapter_sdxl.safetensors")

# Short names for well-known hub models (used offline when they are in the local HF cache).
KNOWN_MODELS: dict[str, ModelSpec] = {
    "sd15": ModelSpec(
        "stable-diffusion-v1-5/stable-diffusion-v1-5",
        "sd15",
        "madebyollin/taesd",
        _SD15_IP,
        {"canny": "lllyasviel/control_v11p_sd15_canny", "lineart": "lllyasviel/control_v11p_sd15_lineart"},
    ),
    "sdxl": ModelSpec(
        "stabilityai/stable-diffusion-xl-base-1.0",
        "sdxl",
        "madebyollin/taesdxl",
        _SDXL_IP,
        {"canny": "diffusers/controlnet-canny-sdxl-1.0"},
    ),
    "sdxl-turbo": ModelSpec("stabilityai/sdxl-turbo", "sdxl-turbo", "madebyollin/taesdxl", _SDXL_IP),
    "flux": ModelSpec("black-forest-labs/FLUX.1-schnell", "flux-schnell"),
}

_FAMILY_BY_CLASS = {
    "StableDiffusionPipeline": "sd15",
    "StableDiffusionXLPipeline": "sdxl",
    "FluxPipeline": "flux",
}


def default_post_spec() -> PostSpec:
    weights = Path(os.environ.get("DRAFTLOOP_WEIGHTS", "~/.cache/draftloop/weights")).expanduser()
    return PostSpec(
        esrgan=weights / "RealESRGAN_x4plus.pth",
        esrgan_arch={
            "num_in_ch": 3,
            "num_out_ch": 3,
            "num_feat": 64,
            "num_block": 23,
            "num_grow_ch": 32,
            "scale": 4,
        },
        gfpgan=weights / "GFPGANv1.4.pth",
        gfpgan_arch={
            "out_size": 512,
            "num_style_feat": 512,
            "channel_multiplier": 2,
            "decoder_load_path": None,
            "fix_decoder": False,
            "num_mlp": 8,
            "input_is_latent": True,
            "different_w": True,
            "narrow": 1,
            "sft_half": True,
        },
        facexlib_root=weights / "facexlib",
    )


def tiny_specs(paths: TinyPaths) -> tuple[dict[str, ModelSpec], PostSpec, dict[str, Path]]:
    """The tiny models by name ("tiny-sd", "tiny-sdxl"), their post-processing spec, and their LoRAs."""
    models = {
        "tiny-sd": ModelSpec(
            str(paths.sd),
            "tiny-sd",
            str(paths.taesd),
            IPAdapterSpec(str(paths.ip_adapter), IP_ADAPTER_SUBFOLDER, IP_ADAPTER_WEIGHT),
            {"canny": str(paths.controlnet), "lineart": str(paths.controlnet)},
        ),
        "tiny-sdxl": ModelSpec(
            str(paths.sdxl),
            "tiny-sdxl",
            str(paths.taesdxl),
            IPAdapterSpec(str(paths.sdxl_ip_adapter), SDXL_IP_ADAPTER_SUBFOLDER, SDXL_IP_ADAPTER_WEIGHT),
            {"canny": str(paths.sdxl_controlnet), "lineart": str(paths.sdxl_controlnet)},
        ),
    }
    post = PostSpec(
        esrgan=paths.esrgan,
        esrgan_net=ESRGAN_NET,
        esrgan_arch=json.loads(paths.esrgan_arch.read_text()),
        gfpgan=paths.gfpgan,
        gfpgan_arch=json.loads(paths.gfpgan_arch.read_text()),
        facexlib_root=paths.facexlib,
        detector=DETECTOR,
        det_threshold=0.0,
        use_parse=False,
        tile=32,
    )
    return models, post, {"tiny-style": paths.lora}


def _guess_family(hub_id: str) -> str:
    low = hub_id.lower()
    if "flux" in low:
        return "flux-schnell" if "schnell" in low else "flux"
    if "xl" in low and ("turbo" in low or "lightning" in low):
        return "sdxl-turbo"
    return "sdxl" if "xl" in low else "sd15"


def _auto_device() -> tuple[str, Any]:
    import torch

    if torch.cuda.is_available():
        return "cuda", torch.float16
    if torch.backends.mps.is_available():
        return "mps", torch.float16
    return "cpu", torch.float32


def family_dtype(family: str, default: Any) -> Any:
    """The weights' dtype for a family: FLUX's transformer and T5 overflow in fp16 (NaN, black images), so
    a half-precision default becomes bf16 for it; other families keep ``default``."""
    import torch

    if family.startswith("flux") and default == torch.float16:
        return torch.bfloat16
    return default


@dataclass
class _Loaded:
    spec: ModelSpec
    base: Any
    pipes: dict[tuple[str, bool, str | None], Any] = field(default_factory=dict)
    loras: set[str] = field(default_factory=set)
    ip_loaded: bool = False
    draft_vae: Any = None
    controlnets: dict[str, Any] = field(default_factory=dict)
    dtype: Any = None


class ModelRegistry:
    def __init__(
        self,
        models: Mapping[str, ModelSpec] | None = None,
        *,
        loras: Mapping[str, Path] | None = None,
        post: PostSpec | None = None,
        allow_download: bool = False,
        device: str | None = None,
        dtype: Any = None,
        cpu_offload: bool = False,
        max_cached_models: int = 2,
        compile_mode: str = "off",
        compile_backend: str = DEFAULT_BACKEND,
    ) -> None:
        self._models: dict[str, ModelSpec] = dict(KNOWN_MODELS)
        self._models.update(models or {})
        self._loras = dict(loras or {})
        self.post = post or default_post_spec()
        self.allow_download = allow_download
        auto_device, auto_dtype = _auto_device()
        self.device = device or auto_device
        self.dtype = dtype if dtype is not None else auto_dtype
        self._dtype_forced = dtype is not None
        self.cpu_offload = cpu_offload and self.device == "cuda"
        self.max_cached_models = max_cached_models
        # torch.compile of each pipeline's denoiser and decoder when it is first built (engine.compile)
        self.compile_mode = check_mode(compile_mode)
        self.compile_backend = compile_backend
        self._loaded: dict[str, _Loaded] = {}
        self._specs: dict[str, ModelSpec] = {}
        self._post_cache: dict[str, Any] = {}

    @classmethod
    def with_tiny(cls, paths: TinyPaths, **kwargs: Any) -> ModelRegistry:
        models, post, loras = tiny_specs(paths)
        return cls(models, loras=loras, post=post, **kwargs)

    # --- names ---------------------------------------------------------------------------------

    def available(self) -> list[str]:
        return sorted(self._models)

    def lora_names(self) -> list[str]:
        return sorted(self._loras)

    def spec(self, name: str) -> ModelSpec:
        """The spec for a known name, a diffusers folder, or a hub id (cached unless downloads are on)."""
        if name in self._models:
            return self._models[name]
        if name in self._specs:
            return self._specs[name]
        folder = Path(name).expanduser()
        if (folder / "model_index.json").is_file():
            cls_name = json.loads((folder / "model_index.json").read_text()).get("_class_name", "")
            family = _FAMILY_BY_CLASS.get(cls_name, "sd15")
            guessed = _guess_family(folder.resolve().name)
            if guessed.startswith(family):  # the folder's name tells sdxl-turbo and flux-schnell apart
                family = guessed
            spec = ModelSpec(str(folder), family)
        elif re.fullmatch(r"[\w.\-]+/[\w.\-]+", name) and (self.allow_download or self._in_hf_cache(name)):
            spec = ModelSpec(name, _guess_family(name))
        else:
            raise BadInput(f"Unknown model '{name}'. Available: {', '.join(self.available())}")
        self._specs[name] = spec
        return spec

    def family(self, name: str) -> str:
        return self.spec(name).family

    @staticmethod
    def _in_hf_cache(repo_id: str) -> bool:
        from huggingface_hub import try_to_load_from_cache

        return isinstance(try_to_load_from_cache(repo_id, "model_index.json"), str)

    # --- pipelines -----------------------------------------------------------------------------

    def _kw(self) -> dict[str, Any]:
        return {"local_files_only": not self.allow_download}

    def dtype_for(self, family: str) -> Any:
        """The dtype a model of ``family`` is loaded in (an explicit registry dtype wins)."""
        return self.dtype if self._dtype_forced else family_dtype(family, self.dtype)

    def _evict(self) -> None:
        """Drop the least recently used model and give its device memory back."""
        self._loaded.pop(next(iter(self._loaded)))
        gc.collect()
        if self.device == "cuda":
            import torch

            torch.cuda.empty_cache()

    def _load(self, name: str) -> _Loaded:
        if name in self._loaded:
            self._loaded[name] = self._loaded.pop(name)  # most recently used last
            return self._loaded[name]
        spec = self.spec(name)
        from diffusers import AutoPipelineForText2Image

        while len(self._loaded) >= self.max_cached_models:
            self._evict()
        dtype = self.dtype_for(spec.family)
        try:
            base = AutoPipelineForText2Image.from_pretrained(spec.source, torch_dtype=dtype, **self._kw())
        except (OSError, ValueError) as exc:
            raise BadInput(f"Model '{name}' could not be loaded: {exc}") from exc
        if hasattr(base, "safety_checker") and getattr(base, "safety_checker", None) is not None:
            base.safety_checker = None
        if self.cpu_offload:
            base.enable_model_cpu_offload()
        else:
            base.to(self.device)
        base.set_progress_bar_config(disable=True)
        loaded = _Loaded(spec=spec, base=base, dtype=dtype)
        self._loaded[name] = loaded
        return loaded

    def pipeline(self, name: str, mode: Mode, *, tiny_vae: bool = False, control: str | None = None) -> Any:
        """A pipeline for (model, mode), sharing the base weights; tiny_vae swaps in the draft decoder."""
        from diffusers import (
            AutoencoderTiny,
            AutoPipelineForImage2Image,
            AutoPipelineForInpainting,
            AutoPipelineForText2Image,
            ControlNetModel,
        )

        loaded = self._load(name)
        use_tiny = tiny_vae and loaded.spec.draft_vae is not None
        key = (mode, use_tiny, control)
        if key in loaded.pipes:
            return loaded.pipes[key]
        extra: dict[str, Any] = {}
        if use_tiny:
            if loaded.draft_vae is None:
                loaded.draft_vae = AutoencoderTiny.from_pretrained(
                    loaded.spec.draft_vae, torch_dtype=loaded.dtype, **self._kw()
                ).to(self.device)
            extra["vae"] = loaded.draft_vae
        if control is not None:
            source = loaded.spec.controlnets.get(control)
            if source is None:
                raise BadInput(f"Model '{name}' has no '{control}' control model.")
            if source not in loaded.controlnets:  # one copy for the full and the draft decoder
                loaded.controlnets[source] = ControlNetModel.from_pretrained(
                    source, torch_dtype=loaded.dtype, **self._kw()
                ).to(self.device)
            extra["controlnet"] = loaded.controlnets[source]
        auto = {
            "txt2img": AutoPipelineForText2Image,
            "img2img": AutoPipelineForImage2Image,
            "inpaint": AutoPipelineForInpainting,
        }[mode]
        pipe = loaded.base if not extra and mode == "txt2img" else auto.from_pipe(loaded.base, **extra)
        pipe.set_progress_bar_config(disable=True)
        compile_pipeline(pipe, self.compile_mode, backend=self.compile_backend)
        loaded.pipes[key] = pipe
        return pipe

    def enable_compile(self, mode: str, backend: str | None = None) -> None:
        """Compile the pipelines built so far and those built from now on ("off" stops the batch padding
        but leaves compiled modules compiled)."""
        self.compile_mode = check_mode(mode)
        self.compile_backend = backend or self.compile_backend
        for loaded in self._loaded.values():
            for pipe in loaded.pipes.values():
                compile_pipeline(pipe, self.compile_mode, backend=self.compile_backend)

    def set_scheduler(self, pipe: Any, scheduler: str, spacing: str | None = None) -> None:
        """Swap in ``scheduler``, built from the pipeline's own scheduler config (betas, prediction type and
        offsets kept); ``spacing`` sets the timestep spacing ("trailing" for few-step distilled models, whose
        one step from "leading" spacing would start at t=1 and return noise)."""
        import diffusers

        classes = {
            "euler": "EulerDiscreteScheduler",
            "euler_a": "EulerAncestralDiscreteScheduler",
            "dpm++": "DPMSolverMultistepScheduler",
            "ddim": "DDIMScheduler",
        }
        current = pipe.scheduler
        # e.g. "flow": keep the model's own scheduler class
        cls = getattr(diffusers, classes[scheduler]) if scheduler in classes else type(current)
        wrong_spacing = spacing is not None and current.config.get("timestep_spacing") != spacing
        if isinstance(current, cls) and not wrong_spacing:
            return
        overrides = {"timestep_spacing": spacing} if spacing is not None else {}
        pipe.scheduler = cls.from_config(current.config, **overrides)

    # --- LoRA and IP-Adapter (state lives on the shared UNet, so it is tracked per model) --------

    def apply_loras(self, name: str, loras: Sequence[LoraSpec]) -> None:
        loaded = self._load(name)
        for lora in loras:
            if lora.name not in self._loras:
                known = ", ".join(self.lora_names()) or "none"
                raise BadInput(f"Unknown LoRA '{lora.name}'. Available: {known}")
        names = [_adapter_name(lora.name) for lora in loras]
        for lora, adapter in zip(loras, names, strict=True):
            if adapter not in loaded.loras:
                try:
                    loaded.base.load_lora_weights(str(self._loras[lora.name]), adapter_name=adapter)
                except (OSError, ValueError, RuntimeError, KeyError) as exc:
                    # a half-injected adapter would make every later load of this name collide
                    with contextlib.suppress(Exception):
                        loaded.base.delete_adapters(adapter)
                    raise BadInput(f"LoRA '{lora.name}' could not be loaded for model '{name}'.") from exc
                loaded.loras.add(adapter)
        if names:
            loaded.base.enable_lora()
            loaded.base.set_adapters(names, adapter_weights=[lora.weight for lora in loras])
        elif loaded.loras:
            loaded.base.disable_lora()

    def set_ip_adapter(self, name: str, pipe: Any, scale: float | None) -> None:
        """Load the model's IP-Adapter and set its scale, or unload it when scale is None."""
        loaded = self._load(name)
        if scale is None:
            if loaded.ip_loaded:
                loaded.base.unload_ip_adapter()
                loaded.ip_loaded = False
                for other in loaded.pipes.values():  # derived pipelines hold their own reference
                    if other is not loaded.base and getattr(other, "image_encoder", None) is not None:
                        other.register_modules(image_encoder=None)
            return
        ip = loaded.spec.ip_adapter
        if ip is None:
            raise BadInput(f"Model '{name}' has no IP-Adapter for style or character references.")
        if not loaded.ip_loaded:
            loaded.base.load_ip_adapter(
                ip.source, subfolder=ip.subfolder, weight_name=ip.weight_name, **self._kw()
            )
            loaded.ip_loaded = True
        if getattr(pipe, "image_encoder", None) is not loaded.base.image_encoder:
            pipe.register_modules(
                image_encoder=loaded.base.image_encoder, feature_extractor=loaded.base.feature_extractor
            )
        pipe.set_ip_adapter_scale(scale)

    # --- post-processing models ----------------------------------------------------------------

    def upscaler(self) -> Any:
        if "esrgan" not in self._post_cache:
            from engine.stages.post import build_upscaler

            self._post_cache["esrgan"] = build_upscaler(self.post, self.device)
        return self._post_cache["esrgan"]

    def face_restorer(self, max_faces: int) -> Any:
        key = f"gfpgan:{max_faces}"
        if key not in self._post_cache:
            from engine.stages.post import build_face_restorer

            self._post_cache[key] = build_face_restorer(self.post, self.device, max_faces=max_faces)
        return self._post_cache[key]


def _adapter_name(name: str) -> str:
    """A module-safe adapter name, unique per LoRA name ("a-b" and "a_b" must not share one)."""
    digest = hashlib.sha1(name.encode()).hexdigest()[:8]
    return re.sub(r"\W", "_", name) + "_" + digest
