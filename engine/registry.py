"""Model registry: names -> loaded diffusers pipelines (one copy of the weights per model, the least
recently used dropped beyond ``max_cached_models``; in-memory pipelines added with ``add_pipeline`` are
kept), with the LoRA and IP-Adapter state of each and the post-processing models (Real-ESRGAN, GFPGAN)."""

from __future__ import annotations

import gc
import logging
import re
from collections.abc import Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any, Literal

from engine import devices
from engine.api import LoraOffer, LoraSpec, lora_fits
from engine.catalog import KNOWN_MODELS, ModelSpec, PostSpec, default_post_spec, folder_spec, guess_family
from engine.compile import DEFAULT_BACKEND, check_mode, compile_pipeline
from engine.loaded_model import LoadedModel, apply_loras, set_ip_adapter
from engine.loras import LoraFile, lora_file
from engine.post_models import PostModels
from engine.pull.variants import local_folder, weights_variant
from engine.runner import BadInput
from engine.sdxl_vae import SDXL_FAMILIES, load_fp16_vae
from engine.single_file import load_single_file

log = logging.getLogger("draftloop.registry")

Mode = Literal["txt2img", "img2img", "inpaint"]


class ModelRegistry:
    def __init__(
        self,
        models: Mapping[str, ModelSpec] | None = None,
        *,
        loras: Mapping[str, Path | LoraFile] | None = None,
        post: PostSpec | None = None,
        allow_download: bool = False,
        device: str | None = None,
        dtype: Any = None,
        cpu_offload: bool = False,
        max_cached_models: int = 2,
        compile_mode: str = "off",
        compile_backend: str = DEFAULT_BACKEND,
        sdxl_vae: str | None = None,
    ) -> None:
        self.sdxl_vae = sdxl_vae  # an fp16-safe VAE swapped into SDXL-family models (engine.sdxl_vae)
        self._models: dict[str, ModelSpec] = dict(KNOWN_MODELS)
        self._models.update(models or {})
        self._loras = {
            name: found if isinstance(found, LoraFile) else replace(lora_file(found), name=name)
            for name, found in (loras or {}).items()
        }
        self.post = post or default_post_spec()
        self.allow_download = allow_download
        auto_device, auto_dtype = devices.auto_device()
        self.device = device or auto_device
        self.dtype = dtype if dtype is not None else auto_dtype
        self._dtype_forced = dtype is not None
        self.cpu_offload = cpu_offload and self.device == "cuda"
        self.max_cached_models = max_cached_models
        # torch.compile of each pipeline's denoiser and decoder when it is first built (engine.compile)
        self.compile_mode = check_mode(compile_mode)
        self.compile_backend = compile_backend
        self._loaded: dict[str, LoadedModel] = {}  # least recently used first
        self._in_memory: dict[str, LoadedModel] = {}  # never dropped: there is nothing to reload them from
        self._specs: dict[str, ModelSpec] = {}
        self.post_models = PostModels(self.post, self.device)

    def add_pipeline(self, name: str, pipeline: Any, *, family: str, draft_vae: Any = None) -> None:
        """Serve ``pipeline`` (already on its device, in its dtype) under ``name``; ``family`` is a key of
        engine.presets.FAMILIES. ``draft_vae`` (an AutoencoderTiny, same device and dtype) decodes the
        presets that ask for the tiny decoder. It has no IP-Adapter or control models."""
        pipeline.set_progress_bar_config(disable=True)
        draft_source = f"in-memory:{name}:draft-vae" if draft_vae is not None else None
        spec = ModelSpec(source=f"in-memory:{name}", family=family, draft_vae=draft_source)
        self._loaded.pop(name, None)
        self._specs.pop(name, None)
        dtype = getattr(pipeline, "dtype", None)
        self._in_memory[name] = LoadedModel(spec=spec, base=pipeline, dtype=dtype, draft_vae=draft_vae)

    # --- names ---------------------------------------------------------------------------------

    def available(self) -> list[str]:
        return sorted({*self._models, *self._in_memory})

    def lora_names(self) -> list[str]:
        return sorted(self._loras)

    def lora_offers(self) -> list[LoraOffer]:
        """The LoRAs, with their family and trigger words, as the heartbeat advertises them."""
        return [self._loras[name].offer() for name in sorted(self._loras)]

    def families(self) -> dict[str, str]:
        """The family of every named model whose weights are on this machine (what it can serve offline)."""
        return {name: self.family(name) for name in self.available() if self.is_local(name)}

    def is_local(self, name: str) -> bool:
        if name in self._in_memory:
            return True
        spec = self.spec(name)
        if spec.single_file:
            return Path(spec.source).expanduser().is_file()
        return local_folder(spec.source) is not None

    def spec(self, name: str) -> ModelSpec:
        """The spec for a known name, a diffusers folder, or a hub id (cached unless downloads are on)."""
        if name in self._in_memory:
            return self._in_memory[name].spec
        if name in self._models:
            return self._models[name]
        if name in self._specs:
            return self._specs[name]
        spec = folder_spec(Path(name).expanduser())
        if spec is None:
            is_hub_id = re.fullmatch(r"[\w.\-]+/[\w.\-]+", name) is not None
            if not (is_hub_id and (self.allow_download or self._in_hf_cache(name))):
                raise BadInput(f"Unknown model '{name}'. Available: {', '.join(self.available())}")
            spec = ModelSpec(name, guess_family(name))
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
        return self.dtype if self._dtype_forced else devices.family_dtype(family, self.dtype)

    def _evict(self) -> None:
        """Drop the least recently used model and give its device memory back."""
        self._loaded.pop(next(iter(self._loaded)))
        gc.collect()
        if self.device == "cuda":
            import torch

            torch.cuda.empty_cache()

    def _load(self, name: str) -> LoadedModel:
        if name in self._in_memory:
            return self._in_memory[name]
        if name in self._loaded:
            self._loaded[name] = self._loaded.pop(name)  # most recently used last
            return self._loaded[name]
        spec = self.spec(name)
        from diffusers import AutoPipelineForText2Image

        while len(self._loaded) >= self.max_cached_models:
            self._evict()
        dtype = self.dtype_for(spec.family)
        try:
            if spec.single_file:
                base = load_single_file(spec, dtype=dtype, allow_download=self.allow_download)
            else:
                # `models pull` fetches the fp16 weight files where a repo has them
                variant = weights_variant(spec.source)
                base = AutoPipelineForText2Image.from_pretrained(
                    spec.source, torch_dtype=dtype, variant=variant, **self._kw()
                )
        except (OSError, ValueError) as exc:  # SingleFileError is a ValueError
            raise BadInput(f"Model '{name}' could not be loaded: {exc}") from exc
        if hasattr(base, "safety_checker") and getattr(base, "safety_checker", None) is not None:
            base.safety_checker = None
        if self.sdxl_vae and spec.family in SDXL_FAMILIES and getattr(base, "vae", None) is not None:
            base.vae = load_fp16_vae(self.sdxl_vae, dtype, local_files_only=not self.allow_download)
        if self.cpu_offload:
            base.enable_model_cpu_offload()
        else:
            base.to(self.device)
        base.set_progress_bar_config(disable=True)
        loaded = LoadedModel(spec=spec, base=base, dtype=dtype)
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
        if use_tiny and loaded.draft_vae is None:
            try:
                loaded.draft_vae = AutoencoderTiny.from_pretrained(
                    loaded.spec.draft_vae, torch_dtype=loaded.dtype, **self._kw()
                ).to(self.device)
            except OSError:
                # drafts still work with the full decoder, only slower; `draftloop doctor` names the fix
                log.warning(
                    "draft decoder %s of model %s is missing: drafts use the full VAE",
                    loaded.spec.draft_vae,
                    name,
                )
                loaded.spec = replace(loaded.spec, draft_vae=None)
                use_tiny = False
                key = (mode, False, control)
                if key in loaded.pipes:
                    return loaded.pipes[key]
        if use_tiny:
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
        for loaded in (*self._loaded.values(), *self._in_memory.values()):
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
            "lcm": "LCMScheduler",
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

    def apply_loras(
        self, name: str, loras: Sequence[LoraSpec], extra: Mapping[str, Path] | None = None
    ) -> None:
        """Activate exactly ``loras`` on model ``name``; ``extra`` names LoRA files beyond the served ones
        (a preset's few-step LoRA), which are neither offered nor checked against the family."""
        family = self.family(name)
        for lora in loras:
            found = self._loras.get(lora.name)
            if found is not None and not lora_fits(found.family, family):
                fitting = [n for n, f in sorted(self._loras.items()) if lora_fits(f.family, family)]
                raise BadInput(
                    f"LoRA '{lora.name}' is for {found.family} models and '{name}' is {family}. "
                    f"LoRAs for it: {', '.join(fitting) or 'none'}"
                )
        files = {n: f.path for n, f in self._loras.items()} | dict(extra or {})
        apply_loras(self._load(name), name, loras, files)

    def set_ip_adapter(self, name: str, pipe: Any, scale: float | None) -> None:
        """Load the model's IP-Adapter and set its scale, or unload it when scale is None."""
        set_ip_adapter(self._load(name), name, pipe, scale, local_files_only=not self.allow_download)

    # --- post-processing models ----------------------------------------------------------------

    def upscaler(self) -> Any:
        return self.post_models.upscaler()

    def face_restorer(self, max_faces: int) -> Any:
        return self.post_models.face_restorer(max_faces)
