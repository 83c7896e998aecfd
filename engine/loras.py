"""A LoRA folder (``DRAFTLOOP_LORA_DIR``): every ``*.safetensors`` in it is a LoRA named by its file stem,
with the base family and trigger words its training tools wrote into the safetensors metadata.

Reads only the files' JSON headers (no torch), so the CLI and the doctor can list a folder cheaply.
"""

from __future__ import annotations

import json
import logging
import struct
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from engine.api import LoraOffer

log = logging.getLogger("draftloop.loras")

TOP_TAGS = 5
_MAX_HEADER = 100 * 1024 * 1024

# kohya's ss_base_model_version values and modelspec.architecture prefixes -> engine families
_KOHYA_BASES = {"sd_v1": "sd15", "sdxl_base_v1-0": "sdxl", "sd_v2": "sd2", "sd3": "sd3", "flux1": "flux"}
_MODELSPEC_BASES = (
    ("stable-diffusion-xl", "sdxl"),
    ("stable-diffusion-v1", "sd15"),
    ("stable-diffusion-v2", "sd2"),
    ("stable-diffusion-3", "sd3"),
    ("flux", "flux"),
)


@dataclass(frozen=True)
class LoraFile:
    name: str
    path: Path
    family: str | None  # None: the metadata doesn't say, so it is offered for every model
    triggers: tuple[str, ...] = ()

    def offer(self) -> LoraOffer:
        return LoraOffer(name=self.name, family=self.family, triggers=list(self.triggers))


def read_metadata(path: Path) -> dict[str, str]:
    """The ``__metadata__`` of a safetensors file's header ({} when it has none or isn't readable)."""
    try:
        with path.open("rb") as fh:
            (size,) = struct.unpack("<Q", fh.read(8))
            if size > _MAX_HEADER:
                return {}
            header = json.loads(fh.read(size))
    except (OSError, ValueError, struct.error):
        return {}
    metadata = header.get("__metadata__") if isinstance(header, dict) else None
    return {str(k): str(v) for k, v in metadata.items()} if isinstance(metadata, dict) else {}


def family_from_metadata(metadata: dict[str, str]) -> str | None:
    """The base family a LoRA was trained for, from draftloop's own key, kohya's or modelspec's."""
    if metadata.get("draftloop.family"):
        return metadata["draftloop.family"]
    kohya = metadata.get("ss_base_model_version", "")
    if kohya in _KOHYA_BASES:
        return _KOHYA_BASES[kohya]
    if kohya.startswith("sdxl"):
        return "sdxl"
    architecture = metadata.get("modelspec.architecture", "").lower()
    for prefix, family in _MODELSPEC_BASES:
        if architecture.startswith(prefix):
            return family
    if metadata.get("ss_v2") == "True":
        return "sd2"
    return None


def triggers_from_metadata(metadata: dict[str, str], top: int = TOP_TAGS) -> tuple[str, ...]:
    """modelspec's trigger phrase, else the most frequent captions tags of kohya's training set."""
    phrase = metadata.get("modelspec.trigger_phrase", "").strip()
    if phrase:
        return tuple(part.strip() for part in phrase.split(",") if part.strip())[:top]
    try:
        datasets = json.loads(metadata.get("ss_tag_frequency", "{}"))
    except ValueError:
        return ()
    counts: Counter[str] = Counter()
    if isinstance(datasets, dict):
        for tags in datasets.values():
            if isinstance(tags, dict):
                counts.update({str(tag).strip(): int(n) for tag, n in tags.items() if str(tag).strip()})
    return tuple(tag for tag, _ in counts.most_common(top))


def lora_file(path: Path) -> LoraFile:
    metadata = read_metadata(path)
    return LoraFile(path.stem, path, family_from_metadata(metadata), triggers_from_metadata(metadata))


def scan_lora_dir(folder: Path | None) -> dict[str, LoraFile]:
    """The LoRAs of ``folder`` by name ({} when it is unset or missing)."""
    if folder is None:
        return {}
    folder = Path(folder).expanduser()
    if not folder.is_dir():
        log.warning("LoRA folder %s does not exist", folder)
        return {}
    return {path.stem: lora_file(path) for path in sorted(folder.glob("*.safetensors")) if path.is_file()}
