"""Single-file checkpoints (one ``.safetensors`` / ``.ckpt`` in the original layout) of the SD 1.x and SDXL
families, loaded with diffusers' ``from_single_file`` and offline: the component configs (UNet, VAE, text
encoders, scheduler, tokenizers) come from a local diffusers folder or a cached hub id, never a download."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from engine.catalog import KNOWN_MODELS, ModelSpec
from engine.model_catalog_file import family_defaults
from engine.pull.variants import local_folder

# family -> diffusers pipeline class that reads its single files
PIPELINE_CLASSES = {
    "sd15": "StableDiffusionPipeline",
    "tiny-sd": "StableDiffusionPipeline",
    "sdxl": "StableDiffusionXLPipeline",
    "sdxl-turbo": "StableDiffusionXLPipeline",
    "tiny-sdxl": "StableDiffusionXLPipeline",
}


class SingleFileError(ValueError):
    """Why a checkpoint can't be loaded; the message names the fix."""


def config_source(spec: ModelSpec) -> str | None:
    """Where the checkpoint's component configs come from: its own ``config``, else its family's model."""
    if spec.config:
        return spec.config
    known = family_defaults(spec.family)
    return known.source if known is not None else None


def local_config_folder(spec: ModelSpec) -> Path | None:
    """The local folder holding the component configs (None when they are not on this machine)."""
    source = config_source(spec)
    folder = local_folder(source) if source else None
    return folder if folder is not None and (folder / "model_index.json").is_file() else None


def missing_config_hint(spec: ModelSpec) -> str:
    known = family_defaults(spec.family)
    if spec.config is None and known is not None:
        short = next(name for name, s in KNOWN_MODELS.items() if s == known)
        return f"run `draftloop models pull {short}` (it holds the {spec.family} component configs)"
    return f"set 'config' to a local diffusers folder of the {spec.family} family"


def load_single_file(spec: ModelSpec, *, dtype: Any, allow_download: bool) -> Any:
    """The text-to-image pipeline of the checkpoint ``spec.source``."""
    import diffusers

    class_name = PIPELINE_CLASSES.get(spec.family)
    if class_name is None:
        families = ", ".join(sorted(PIPELINE_CLASSES))
        raise SingleFileError(
            f"single-file checkpoints of family '{spec.family}' aren't supported ({families})"
        )
    checkpoint = Path(spec.source).expanduser()
    if not checkpoint.is_file():
        raise SingleFileError(f"checkpoint {checkpoint} does not exist")
    folder = local_config_folder(spec)
    config = str(folder) if folder is not None else config_source(spec)
    if config is None or (folder is None and not allow_download):
        raise SingleFileError(
            f"the component configs for {checkpoint.name} are missing: {missing_config_hint(spec)}"
        )
    from diffusers.loaders.single_file_utils import SingleFileComponentError

    pipeline_class = getattr(diffusers, class_name)
    try:
        return pipeline_class.from_single_file(
            str(checkpoint), config=config, torch_dtype=dtype, local_files_only=not allow_download
        )
    except SingleFileComponentError as exc:
        first_line = str(exc).splitlines()[0] if str(exc) else "a component is missing"
        raise SingleFileError(f"{checkpoint.name} is not a {spec.family} checkpoint: {first_line}") from exc
