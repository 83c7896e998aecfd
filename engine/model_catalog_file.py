"""A team's model catalog: a TOML file (``DRAFTLOOP_MODELS``, or ``models.toml`` in the data dir) naming
the models its workers serve and the default one. Torch-free, so the bot and the CLI read it too.

    default = "house"

    [models.house]                        # a single-file checkpoint
    checkpoint = "checkpoints/house-v3.safetensors"
    family = "sd15"
    config = "stable-diffusion-v1-5/stable-diffusion-v1-5"   # component configs (default: the family's)

    [models.product]                      # a diffusers folder or a hub id
    source = "/models/product-xl"
    draft_vae = "madebyollin/taesdxl"
    controlnets = { canny = "diffusers/controlnet-canny-sdxl-1.0" }
    [models.product.ip_adapter]
    source = "h94/IP-Adapter"
    subfolder = "sdxl_models"
    weight_name = "ip-adapter_sdxl.safetensors"

    [models.sd15]                         # a well-known short name, as it is

Relative paths are relative to the file. A model of a well-known family (sd15, sdxl, sdxl-turbo) takes
that family's draft decoder, IP-Adapter and ControlNets unless it names its own (``draft_vae = ""``: none).
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from engine.catalog import KNOWN_MODELS, IPAdapterSpec, ModelSpec, folder_spec, guess_family

CATALOG_FILE = "models.toml"
SINGLE_FILE_SUFFIXES = (".safetensors", ".ckpt")
_ENTRY_KEYS = {"source", "checkpoint", "family", "config", "draft_vae", "ip_adapter", "controlnets"}


class CatalogError(ValueError):
    """The catalog file can't be read or names something it can't serve; the message says which line."""


@dataclass(frozen=True)
class ModelCatalog:
    models: dict[str, ModelSpec] = field(default_factory=dict)
    default: str | None = None
    path: Path | None = None


def catalog_path(explicit: Path | str | None, data_dir: Path | str) -> Path | None:
    """The catalog file in use: the one named, else ``models.toml`` in the data dir when it exists."""
    if explicit:
        return Path(explicit).expanduser()
    candidate = Path(data_dir).expanduser() / CATALOG_FILE
    return candidate if candidate.is_file() else None


def family_defaults(family: str) -> ModelSpec | None:
    """The well-known model of ``family`` whose extras a catalog model of that family takes."""
    return next((spec for spec in KNOWN_MODELS.values() if spec.family == family), None)


def _path(value: str, base: Path) -> str:
    expanded = Path(value).expanduser()
    return str(expanded if expanded.is_absolute() else base / expanded)


def _path_or_id(value: str, base: Path) -> str:
    """A relative path resolved against the catalog's folder; hub ids ("org/name") stay as they are."""
    expanded = Path(value).expanduser()
    if expanded.is_absolute():
        return str(expanded)
    local = base / expanded
    looks_like_hub_id = value.count("/") == 1 and not value.startswith(".") and not local.exists()
    return value if looks_like_hub_id else str(local)


def _text(entry: dict[str, Any], key: str, where: str) -> str | None:
    value = entry.get(key)
    if value is None:
        return None
    if not isinstance(value, str):
        raise CatalogError(f"{where}: '{key}' must be a string")
    return value


def _entry_spec(name: str, entry: dict[str, Any], base: Path) -> ModelSpec:
    where = f"models.{name}"
    unknown = set(entry) - _ENTRY_KEYS
    if unknown:
        raise CatalogError(f"{where}: unknown key(s) {', '.join(sorted(unknown))}")
    source, checkpoint = _text(entry, "source", where), _text(entry, "checkpoint", where)
    family = _text(entry, "family", where)
    if source and checkpoint:
        raise CatalogError(f"{where}: give 'source' or 'checkpoint', not both")
    if checkpoint:
        if not checkpoint.lower().endswith(SINGLE_FILE_SUFFIXES):
            raise CatalogError(f"{where}: a checkpoint is a .safetensors or .ckpt file")
        if not family:
            raise CatalogError(f"{where}: a checkpoint needs its 'family' (sd15, sdxl, ...)")
        config = _text(entry, "config", where)
        spec = ModelSpec(
            _path(checkpoint, base),
            family,
            single_file=True,
            config=_path_or_id(config, base) if config else None,
        )
    elif source:
        resolved = _path_or_id(source, base)
        found = folder_spec(Path(resolved))
        spec = ModelSpec(resolved, family or (found.family if found else guess_family(source)))
    elif name in KNOWN_MODELS:
        spec = KNOWN_MODELS[name]
    else:
        raise CatalogError(f"{where}: needs a 'source' (folder or hub id) or a 'checkpoint' file")
    return _with_extras(spec, entry, base, where)


def _with_extras(spec: ModelSpec, entry: dict[str, Any], base: Path, where: str) -> ModelSpec:
    known = family_defaults(spec.family)
    draft_vae = spec.draft_vae or (known.draft_vae if known else None)
    ip_adapter = spec.ip_adapter or (known.ip_adapter if known else None)
    controlnets = dict(spec.controlnets or (known.controlnets if known else {}))
    if "draft_vae" in entry:
        value = _text(entry, "draft_vae", where)
        draft_vae = _path_or_id(value, base) if value else None
    if "ip_adapter" in entry:
        ip = entry["ip_adapter"]
        if not isinstance(ip, dict) or not {"source", "subfolder", "weight_name"} <= set(ip):
            raise CatalogError(f"{where}: ip_adapter needs source, subfolder and weight_name")
        ip_adapter = IPAdapterSpec(
            _path_or_id(str(ip["source"]), base), str(ip["subfolder"]), str(ip["weight_name"])
        )
    if "controlnets" in entry:
        if not isinstance(entry["controlnets"], dict):
            raise CatalogError(f"{where}: controlnets is a table of kind = folder or hub id")
        controlnets = {str(kind): _path_or_id(str(src), base) for kind, src in entry["controlnets"].items()}
    return replace(spec, draft_vae=draft_vae, ip_adapter=ip_adapter, controlnets=controlnets)


def load_catalog(path: Path | None) -> ModelCatalog:
    """The models a catalog file names (an empty catalog when ``path`` is None)."""
    if path is None:
        return ModelCatalog()
    try:
        data = tomllib.loads(path.read_text())
    except OSError as exc:
        raise CatalogError(f"model catalog {path} can't be read: {exc.strerror or exc}") from exc
    except tomllib.TOMLDecodeError as exc:
        raise CatalogError(f"model catalog {path} is not valid TOML: {exc}") from exc
    entries = data.get("models", {})
    if not isinstance(entries, dict) or not all(isinstance(v, dict) for v in entries.values()):
        raise CatalogError(f"model catalog {path}: [models.NAME] tables expected")
    base = path.parent.resolve()
    models = {str(name): _entry_spec(str(name), entry, base) for name, entry in entries.items()}
    default = data.get("default")
    if default is not None and (not isinstance(default, str) or default not in models):
        names = ", ".join(sorted(models)) or "none"
        raise CatalogError(f"model catalog {path}: default '{default}' is not one of its models ({names})")
    if default is None and len(models) == 1:
        default = next(iter(models))
    return ModelCatalog(models, default, path)


def catalog_default(explicit: Path | str | None, data_dir: Path | str) -> str | None:
    """The catalog's default model, or None when there is no catalog (or it names no default)."""
    return load_catalog(catalog_path(explicit, data_dir)).default
