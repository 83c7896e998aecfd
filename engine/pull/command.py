"""``draftloop models pull NAME... [--dry-run]``: the arguments, the plan and the run."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TextIO

from engine.pull.errors import PullError
from engine.pull.progress import Progress, human_size
from engine.pull.reachable import ensure_reachable
from engine.pull.sources import (
    UPSCALERS,
    PullPlan,
    hub_endpoint,
    known_names,
    plan_for,
    releases_base_url,
)


def add_pull_parser(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    pull = sub.add_parser(
        "pull",
        help="download a known model with everything its stages use, or the upscalers",
        description=f"Names: {', '.join(known_names())}. Hub files go to the Hugging Face cache "
        "(HF_HOME / HF_HUB_CACHE; HF_ENDPOINT for a mirror), release files to the weights folder "
        "(DRAFTLOOP_WEIGHTS; DRAFTLOOP_RELEASES_URL for a mirror).",
    )
    pull.add_argument("names", nargs="+", metavar="NAME", help=f"a known model or '{UPSCALERS}'")
    pull.add_argument("--dry-run", action="store_true", help="list what would be fetched, fetch nothing")
    pull.add_argument("--cache-dir", type=Path, default=None, help="the Hugging Face hub cache folder")
    pull.add_argument("--weights-dir", type=Path, default=None, help="where the release files go")


def run_pull_command(args: argparse.Namespace, out: TextIO | None = None, err: TextIO | None = None) -> int:
    """Runs the pull; a failure is one line on ``err`` and exit status 1."""
    out = out or sys.stdout
    err = err or sys.stderr
    try:
        plan = plan_for(list(args.names), args.weights_dir)
        if args.dry_run:
            dry_run(plan, Progress(out, bars=False))
        else:
            pull(plan, Progress(out), args.cache_dir)
    except PullError as exc:
        print(f"pull failed: {exc}", file=err, flush=True)
        return 1
    return 0


def check_hosts(plan: PullPlan, releases: bool = True) -> None:
    """Refuses at once when a host the plan needs cannot be reached."""
    from engine.pull.hub import hub_advice
    from engine.pull.release import release_advice

    if plan.hub:
        ensure_reachable(hub_endpoint(), hub_advice())
    if plan.releases and releases:
        ensure_reachable(releases_base_url(), release_advice(plan.releases[0].dest.parent))


def pull(plan: PullPlan, progress: Progress, cache_dir: Path | None = None) -> None:
    from engine.pull.hub import fetch_repo
    from engine.pull.release import fetch_release

    check_hosts(plan)
    endpoint = hub_endpoint()
    for source in plan.hub:
        progress.line(f"{source.repo_id} ({source.purpose})")
        fetch_repo(source, endpoint, progress, cache_dir)
    base = releases_base_url()
    for release in plan.releases:
        fetch_release(release, base, progress)


def dry_run(plan: PullPlan, progress: Progress) -> None:
    """Lists each hub file (the hub is asked for its listing) and each release file, downloading none."""
    from engine.pull.hub import list_files, select_files

    check_hosts(plan, releases=False)  # the release files are listed from the plan alone
    endpoint = hub_endpoint()
    total = 0
    for source in plan.hub:
        files = select_files(source, list_files(source, endpoint))
        progress.line(f"{source.repo_id} ({source.purpose}) from {endpoint}")
        for f in files:
            total += f.size
            progress.line(f"  {f.path}  {human_size(f.size)}")
    base = releases_base_url()
    for release in plan.releases:
        total += release.size or 0
        progress.line(f"{base}/{release.url_path} -> {release.dest}  {human_size(release.size)}")
    progress.line(f"would fetch {human_size(total)} in all (files already present are skipped)")
