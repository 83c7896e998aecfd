"""Which weights variant a model's local files are in: ``pull`` fetches the fp16 safetensors where a
repo has them, and diffusers loads those only when asked with ``variant="fp16"``."""

from __future__ import annotations

import re
from pathlib import Path

_FP16_WEIGHTS = re.compile(r"\.fp16[.-].*safetensors$|\.safetensors\.index\.fp16\.json$")


def local_folder(source: str, cache_dir: Path | None = None) -> Path | None:
    """A diffusers folder, or the cached snapshot of a hub id's main revision (None if not cached)."""
    folder = Path(source).expanduser()
    if folder.is_dir():
        return folder
    from huggingface_hub import constants
    from huggingface_hub.file_download import repo_folder_name

    if "/" not in source:
        return None
    storage = Path(cache_dir or constants.HF_HUB_CACHE) / repo_folder_name(repo_id=source, repo_type="model")
    ref = storage / "refs" / "main"
    if not ref.is_file():
        return None
    snapshot = storage / "snapshots" / ref.read_text().strip()
    return snapshot if snapshot.is_dir() else None


def weights_variant(source: str, cache_dir: Path | None = None) -> str | None:
    """``"fp16"`` when the local files of ``source`` hold fp16 variant weights, else None (plain files)."""
    folder = local_folder(source, cache_dir)
    if folder is None:
        return None
    return "fp16" if any(_FP16_WEIGHTS.search(p.name) for p in folder.rglob("*")) else None
