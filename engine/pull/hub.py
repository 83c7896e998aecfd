"""Hub repos into the Hugging Face cache through ``huggingface_hub``: only the files diffusers loads,
each checked against the hash the hub reports (the LFS sha256, or the git blob id of small files)."""

from __future__ import annotations

import hashlib
import posixpath
import re
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from engine.pull.errors import IntegrityError, PullError, Unreachable
from engine.pull.progress import Progress
from engine.pull.release import sha256_of
from engine.pull.sources import HubSource

ATTEMPTS = 3
_FP16 = re.compile(r"\.fp16[.-]")
_CONFIG_SUFFIXES = (".json", ".txt", ".model")  # configs, tokenizers (vocab, merges, spiece.model)
_WEIGHT_SUFFIXES = (".safetensors", ".bin")


@dataclass(frozen=True)
class HubFile:
    path: str
    size: int
    sha256: str | None  # LFS files
    blob_id: str  # git blob sha1


def hub_advice() -> str:
    return (
        "no network? copy the Hugging Face cache (~/.cache/huggingface/hub) from a machine that has "
        "the models, or set HF_ENDPOINT to a reachable mirror"
    )


def _is_weight(path: str) -> bool:
    name = posixpath.basename(path)
    return name.endswith(_WEIGHT_SUFFIXES) or ".safetensors.index" in name or ".bin.index" in name


def _diffusers_files(files: list[HubFile]) -> list[HubFile]:
    """Configs and tokenizers everywhere; per folder the fp16 safetensors where they exist, else the
    plain safetensors, else the .bin weights. A pipeline repo's root-level single-file checkpoints are
    not what diffusers loads and are skipped."""
    is_pipeline = any(f.path == "model_index.json" for f in files)
    chosen = [
        f
        for f in files
        if f.path.endswith(_CONFIG_SUFFIXES) and not _is_weight(f.path) and f.path != "README.md"
    ]
    by_folder: dict[str, list[HubFile]] = defaultdict(list)
    for f in files:
        folder = posixpath.dirname(f.path)
        if _is_weight(f.path) and not (is_pipeline and folder == ""):
            by_folder[folder].append(f)
    for weights in by_folder.values():
        safetensors = [f for f in weights if ".safetensors" in f.path]
        fp16 = [f for f in safetensors if _FP16.search(posixpath.basename(f.path))]
        plain = [f for f in safetensors if not _FP16.search(posixpath.basename(f.path))]
        bins = [f for f in weights if ".safetensors" not in f.path and not _FP16.search(f.path)]
        chosen.extend(fp16 or plain or bins)
    skipped = ("onnx/", "openvino/", "flax/")
    return sorted((f for f in chosen if not f.path.startswith(skipped)), key=lambda f: f.path)


def select_files(source: HubSource, files: Iterable[HubFile]) -> list[HubFile]:
    """The files of a repo that the stage using ``source`` loads."""
    listed = list(files)
    if source.kind == "lora":
        root = [f for f in listed if "/" not in f.path and f.path.endswith(".safetensors")]
        return sorted(root, key=lambda f: f.path)
    if source.kind == "ip-adapter":
        folder = source.subfolder or ""
        prefix = f"{folder}/" if folder else ""
        weight = f"{prefix}{source.weight_name}"
        encoder = [f for f in listed if f.path.startswith(f"{prefix}image_encoder/")]
        chosen = [f for f in listed if f.path == weight] + _diffusers_files(encoder)
        if not any(f.path == weight for f in chosen):
            raise PullError(f"{source.repo_id} has no {weight}")
        return chosen
    return _diffusers_files(listed)


def list_files(source: HubSource, endpoint: str) -> list[HubFile]:
    from huggingface_hub import HfApi
    from huggingface_hub.hf_api import RepoFile

    api = HfApi(endpoint=endpoint)
    with _hub_errors(source, endpoint):
        entries = list(api.list_repo_tree(source.repo_id, recursive=True, revision=source.revision))
    return [
        HubFile(e.path, e.size, e.lfs.sha256 if e.lfs is not None else None, e.blob_id)
        for e in entries
        if isinstance(e, RepoFile)
    ]


def fetch_repo(
    source: HubSource, endpoint: str, progress: Progress, cache_dir: Path | None = None
) -> list[HubFile]:
    """Downloads the selected files of ``source`` (huggingface_hub resumes partial blobs itself) and
    verifies each; a file whose bytes do not match is removed from the cache and refused."""
    from huggingface_hub import snapshot_download
    from huggingface_hub.utils import disable_progress_bars, enable_progress_bars

    files = select_files(source, list_files(source, endpoint))
    if not files:
        raise PullError(f"{source.repo_id}: none of its files is one diffusers loads")
    if not progress.bars:
        disable_progress_bars()
    try:
        folder = _snapshot_with_retries(
            source, endpoint, [f.path for f in files], cache_dir, snapshot_download
        )
    finally:
        if not progress.bars:
            enable_progress_bars()
    for f in files:
        _verify(source, Path(folder) / f.path, f)
        progress.done(f"{source.repo_id}/{f.path}", f.size, "sha256 ok" if f.sha256 else "blob id ok")
    return files


def _snapshot_with_retries(
    source: HubSource, endpoint: str, patterns: list[str], cache_dir: Path | None, download: Any
) -> str:
    import httpx2

    last: Exception | None = None
    for _ in range(ATTEMPTS):
        try:
            with _hub_errors(source, endpoint):
                return str(
                    download(
                        source.repo_id,
                        revision=source.revision,
                        allow_patterns=patterns,
                        cache_dir=str(cache_dir) if cache_dir is not None else None,
                        endpoint=endpoint,
                    )
                )
        except PullError as exc:
            # a dropped connection mid-file: the next call continues the blob's .incomplete file
            if not isinstance(exc.__cause__, (httpx2.ReadError, httpx2.RemoteProtocolError)):
                raise
            last = exc
    raise PullError(f"{source.repo_id}: the connection kept dropping; run pull again") from last


class _hub_errors:
    """Turns huggingface_hub and transport errors into one-line pull errors."""

    def __init__(self, source: HubSource, endpoint: str) -> None:
        self.source = source
        self.endpoint = endpoint

    def __enter__(self) -> None:
        return None

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: Any) -> None:
        if exc is None or isinstance(exc, PullError):
            return
        import httpx2
        from huggingface_hub.errors import (
            EntryNotFoundError,
            HfHubHTTPError,
            LocalEntryNotFoundError,
            OfflineModeIsEnabled,
            RepositoryNotFoundError,
            RevisionNotFoundError,
        )

        repo = self.source.repo_id
        host = urlsplit(self.endpoint).netloc or self.endpoint
        if isinstance(exc, OfflineModeIsEnabled):
            raise PullError("HF_HUB_OFFLINE is set: unset it to pull from the hub") from exc
        if isinstance(exc, (httpx2.ConnectError, httpx2.ConnectTimeout)):
            raise Unreachable(host, hub_advice()) from exc
        if isinstance(exc, LocalEntryNotFoundError) and isinstance(exc.__cause__, httpx2.ConnectError):
            raise Unreachable(host, hub_advice()) from exc
        if isinstance(exc, RepositoryNotFoundError):
            raise PullError(f"{repo}: repository not found on {host} (or it is gated: log in)") from exc
        if isinstance(exc, RevisionNotFoundError):
            raise PullError(f"{repo}: revision '{self.source.revision}' not found on {host}") from exc
        if isinstance(exc, EntryNotFoundError):
            raise PullError(f"{repo}: a listed file is missing on {host}: {exc}") from exc
        if isinstance(exc, (httpx2.TransportError, HfHubHTTPError, LocalEntryNotFoundError)):
            first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            raise PullError(f"{repo}: download from {host} failed: {first}") from exc


def git_blob_id(path: Path) -> str:
    digest = hashlib.sha1(f"blob {path.stat().st_size}\0".encode())
    with path.open("rb") as handle:
        while block := handle.read(1 << 20):
            digest.update(block)
    return digest.hexdigest()


def _verify(source: HubSource, path: Path, expected: HubFile) -> None:
    if expected.sha256 is not None:
        actual, want, what = sha256_of(path), expected.sha256, "sha256"
    else:
        actual, want, what = git_blob_id(path), expected.blob_id, "git blob id"
    if actual == want:
        return
    blob = path.resolve()
    path.unlink(missing_ok=True)
    blob.unlink(missing_ok=True)
    raise IntegrityError(
        f"{source.repo_id}/{expected.path}: {what} mismatch (the hub reports {want}, the download has "
        f"{actual}); removed it from the cache, run pull again"
    )
