"""``draftloop models tiny [--dir DIR]``, ``draftloop models list`` and ``draftloop models pull NAME...``."""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from engine.pull.command import add_pull_parser, run_pull_command

DEFAULT_TINY_DIR = "~/.cache/draftloop/tiny"


def models_main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="draftloop models", description="Manage the engine's models.")
    sub = parser.add_subparsers(dest="command", required=True)
    tiny = sub.add_parser("tiny", help="write the tiny random-weight offline models")
    tiny.add_argument("--dir", default=os.environ.get("DRAFTLOOP_TINY_DIR", DEFAULT_TINY_DIR))
    listing = sub.add_parser("list", help="list the model names the engine knows")
    listing.add_argument("--dir", default=os.environ.get("DRAFTLOOP_TINY_DIR", DEFAULT_TINY_DIR))
    add_pull_parser(sub)
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:
        return int(exc.code or 0)
    if args.command == "pull":
        return run_pull_command(args)
    root = Path(args.dir).expanduser()
    if args.command == "tiny":
        from engine.tiny import build_tiny_models

        paths = build_tiny_models(root)
        print(f"tiny models ready in {paths.root}")
        return 0
    from engine.catalog import KNOWN_MODELS
    from engine.presets import FAMILIES
    from engine.tiny import MARKER

    tiny_state = "ready" if (root / MARKER).exists() else "not built (run: draftloop models tiny)"
    for name in ("tiny-sd", "tiny-sdxl"):
        print(f"{name:<12} family {name:<9} {root}  [{tiny_state}]")
    for name, spec in sorted(KNOWN_MODELS.items()):
        print(f"{name:<12} family {spec.family:<9} {spec.source}")
    print(f"families: {', '.join(FAMILIES)}; any local diffusers folder or cached hub id also works")
    return 0
