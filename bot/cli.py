"""The `draftloop` command. Torch and the adapters are imported only by the subcommands that need them."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from bot.config import ConfigError, load_config, settings_help

SUBCOMMANDS = {
    "up": "all on one machine: Redis (embedded unless REDIS_URL), engine worker(s), bot, web playground",
    "bot": "the bot alone (adapters + service), for hosts without a GPU; workers run elsewhere",
    "worker": "one engine worker: consumes the job streams, runs the image stages on this machine's device",
    "demo": "run one scripted campaign through the real stack and write every stage's images to --out",
    "bench": "compare stock one-at-a-time diffusers calls with the engine's batching path",
    "models": "models: `models list` (catalog, LoRAs), `models pull NAME`, `models tiny` (offline models)",
    "doctor": "what a worker can serve on this machine: device, memory, each model and extra, the fixes",
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="draftloop",
        description="A team chat bot for AI image campaigns: draft → vote → refine → edit → upscale.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, help_text in SUBCOMMANDS.items():
        p = sub.add_parser(
            name,
            help=help_text,
            description=help_text,
            epilog=settings_help() if name in ("up", "bot", "worker") else None,
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )
        if name == "demo":
            p.add_argument("--out", required=True, help="folder for the images, campaign.json, index.html")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args_list = list(sys.argv[1:] if argv is None else argv)
    # Subcommands with their own flags get everything after the subcommand's name.
    if args_list and args_list[0] in ("models", "doctor"):
        return _models_command(args_list)
    if args_list and args_list[0] == "bench":
        from engine.bench import bench_main

        return bench_main(args_list[1:])
    if args_list and args_list[0] == "worker":
        from bot.worker_cli import worker_main

        return worker_main(args_list[1:])
    parser = build_parser()
    args = parser.parse_args(args_list)
    if args.command is None:
        parser.print_help()
        return 0
    try:
        config = load_config()
    except ConfigError as exc:
        print(f"draftloop: {exc}", file=sys.stderr)
        return 2
    from bot import app

    if args.command == "up":
        return app.up(config)
    if args.command == "bot":
        return app.bot_only(config)
    if args.command == "demo":
        from bot.demo import demo_main

        return demo_main(config, args.out)
    parser.error(f"unknown command {args.command}")
    return 2


def _models_command(args_list: list[str]) -> int:
    """`models` and `doctor` look where the workers look: the data dir, catalog and LoRA folder settings."""
    from engine.doctor import ModelPlaces, doctor_main
    from engine.models_cli import models_main

    try:
        config = load_config(role="worker")
    except ConfigError as exc:
        print(f"draftloop: {exc}", file=sys.stderr)
        return 2
    places = ModelPlaces(
        data_dir=config.data_dir,
        model=config.model,
        models_file=config.models_file,
        lora_dir=config.lora_dir,
        weights_dir=config.weights_dir,
    )
    if args_list[0] == "doctor":
        if len(args_list) > 1:
            print("draftloop doctor takes no arguments (it reads the configuration)", file=sys.stderr)
            return 2
        return doctor_main(places)
    return models_main(args_list[1:], places)


if __name__ == "__main__":
    raise SystemExit(main())
