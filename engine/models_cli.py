"""``draftloop models tiny [--dir DIR]``, ``draftloop models list`` (the catalog, the LoRA folder, the tiny
and well-known models) and ``draftloop models pull NAME...``."""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from engine.doctor import ModelPlaces
from engine.pull.command import add_pull_parser, run_pull_command

DEFAULT_TINY_DIR = "~/.cache/draftloop/tiny"


def models_main(argv: list[str], places: ModelPlaces | None = None) -> int:
    """``places`` (from the one configuration) say where the catalog, LoRAs and data dir are; without
    them the environment does."""
    places = places or ModelPlaces.from_env()
    parser = argparse.ArgumentParser(prog="draftloop models", description="Manage the engine's models.")
    sub = parser.add_subparsers(dest="command", required=True)
    tiny = sub.add_parser("tiny", help="write the tiny random-weight offline models")
    tiny.add_argument("--dir", default=os.environ.get("DRAFTLOOP_TINY_DIR", DEFAULT_TINY_DIR))
    listing = sub.add_parser("list", help="list the catalog, the LoRAs and the model names the engine knows")
    listing.add_argument("--dir", default=None, help="the tiny models' folder (default: DATA_DIR/models)")
    add_pull_parser(sub)
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:
        return int(exc.code or 0)
    if args.command == "pull":
        return run_pull_command(args)
    if args.command == "tiny":
        from engine.tiny import build_tiny_models

        paths = build_tiny_models(Path(args.dir).expanduser())
        print(f"tiny models ready in {paths.root}")
        return 0
    print(list_models(places, tiny_dir=Path(args.dir).expanduser() if args.dir else places.tiny_dir))
    return 0


def list_models(places: ModelPlaces, *, tiny_dir: Path) -> str:
    from engine.catalog import KNOWN_MODELS
    from engine.doctor import lora_line, model_checks
    from engine.loras import scan_lora_dir
    from engine.model_catalog_file import CatalogError, catalog_path, load_catalog
    from engine.presets import FAMILIES
    from engine.tiny import MARKER

    lines: list[str] = []
    path = catalog_path(places.models_file, places.data_dir)
    try:
        catalog = load_catalog(path)
    except CatalogError as exc:
        lines.append(f"catalog: {exc}")
        catalog = load_catalog(None)
    if path is not None and catalog.path is not None:
        lines.append(f"catalog {path} (default: {catalog.default or 'none'}):")
        for name, spec in sorted(catalog.models.items()):
            present = model_checks(spec)[0].present
            kind = "checkpoint" if spec.single_file else "model"
            state = "" if present else "  [missing: draftloop doctor says how to fix it]"
            lines.append(f"  {name:<14} {kind:<10} family {spec.family:<11} {spec.source}{state}")
    tiny_state = "ready" if (tiny_dir / MARKER).exists() else "not built (built on the first `draftloop up`)"
    lines.append("tiny offline models:")
    for name in ("tiny-sd", "tiny-sdxl"):
        lines.append(f"  {name:<14} family {name:<11} {tiny_dir}  [{tiny_state}]")
    lines.append("well-known names (draftloop models pull NAME):")
    for name, spec in sorted(KNOWN_MODELS.items()):
        lines.append(f"  {name:<14} family {spec.family:<11} {spec.source}")
    loras = scan_lora_dir(places.lora_dir)
    where = places.lora_dir or "DRAFTLOOP_LORA_DIR unset"
    lines.append(f"LoRAs ({where}): {len(loras) or 'none'}")
    lines.extend(lora_line(lora, set()) for lora in loras.values())
    lines.append(f"families: {', '.join(FAMILIES)}; any local diffusers folder or cached hub id also works")
    return "\n".join(lines)
