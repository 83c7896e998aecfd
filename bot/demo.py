"""`draftloop demo --out DIR`: one scripted campaign through the real stack, every stage's images on disk.

draft 8 → three users vote (quorum closes the round) → the winner is refined → inpaint a box →
zoom out 1.5× → upscale ×4 with face restore. Exits 0 only if every stage produced its images.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from dataclasses import dataclass, field, replace
from pathlib import Path

from bot.app import running_stack
from bot.config import Config
from bot.core.messages import NUMBER_EMOJI, Message, MessageKind
from bot.core.model import Campaign, Stage, ThreadRef, User
from bot.demo_page import demo_page
from bot.ports import PostLog
from bot.service import CampaignService

PLATFORM = "demo"
CHANNEL = "studio"
TEAM = (User(id="ana", name="Ana"), User(id="ben", name="Ben"), User(id="chloe", name="Chloe"))
STAGE_TIMEOUT = 900.0


@dataclass
class DemoPresenter:
    """Keeps what the bot posts, like a channel would."""

    platform: str = PLATFORM
    posts: list[tuple[str, Message]] = field(default_factory=list)
    status: dict[str, str] = field(default_factory=dict)
    threads: int = 0

    async def open_thread(self, channel_id: str, title: str) -> ThreadRef:
        self.threads += 1
        return ThreadRef(platform=self.platform, channel_id=channel_id, thread_id=f"thread-{self.threads}")

    async def post(self, thread: ThreadRef, message: Message, log: PostLog) -> str:
        message_id = f"m{len(self.posts) + 1}"
        self.posts.append((message_id, message))
        return message_id

    async def post_status(self, thread: ThreadRef, text: str) -> str:
        self.status[thread.thread_id] = text  # one campaign per thread: its status line's id
        return thread.thread_id

    async def edit_status(self, thread: ThreadRef, message_id: str, text: str) -> None:
        self.status[message_id] = text


class DemoFailed(RuntimeError):
    pass


class Progress:
    def __init__(self, steps: list[str]) -> None:
        self.steps = steps
        self.done = 0
        self.started = time.monotonic()

    def show(self, note: str = "") -> None:
        width = 30
        filled = width * self.done // len(self.steps)
        label = self.steps[min(self.done, len(self.steps) - 1)]
        line = f"\r[{'#' * filled}{'.' * (width - filled)}] {self.done}/{len(self.steps)} {label:<10} {note}"
        sys.stderr.write(line[:110].ljust(110))
        sys.stderr.flush()

    def advance(self) -> None:
        self.done += 1
        self.show(f"{time.monotonic() - self.started:.0f}s")
        if self.done == len(self.steps):
            sys.stderr.write("\n")


async def _wait_stage(
    service: CampaignService, campaign_id: str, stages: set[Stage], bar: Progress, status: dict[str, str]
) -> Campaign:
    deadline = time.monotonic() + STAGE_TIMEOUT
    while time.monotonic() < deadline:
        campaign = await service.campaign(campaign_id)
        if campaign is not None and campaign.stage in stages and not campaign.pending:
            return campaign
        if campaign is not None and campaign.stage in (Stage.FAILED, Stage.CANCELLED):
            raise DemoFailed(f"campaign {campaign.stage}: {campaign.failure}")
        bar.show(status.get(campaign.thread.thread_id, "")[:60] if campaign is not None else "")
        await asyncio.sleep(0.25)
    raise DemoFailed(f"timed out waiting for {', '.join(sorted(stages))}")


def _newest(campaign: Campaign, before: int) -> list[int]:
    return sorted(n for n in campaign.candidates if n >= before and campaign.candidates[n].artifact)


async def _say(service: CampaignService, thread: ThreadRef | None, user: User, text: str) -> None:
    replies = await service.handle_text(PLATFORM, CHANNEL, thread.thread_id if thread else None, user, text)
    errors = [r for r in replies if r]
    if errors and thread is not None and not text.startswith(("/status", "/cost")):
        raise DemoFailed(f"{text!r} was refused: {' '.join(errors)}")


async def run_demo(
    service: CampaignService, presenter: DemoPresenter
) -> tuple[Campaign, dict[str, list[int]]]:
    steps = ["draft", "vote", "refine", "inpaint", "outpaint", "upscale"]
    bar = Progress(steps)
    made: dict[str, list[int]] = {}
    ana, ben, chloe = TEAM

    await _say(
        service,
        None,
        ana,
        "/draft a lighthouse on a cliff at dusk, watercolor --n 8 --ar 3:2 --no text, watermark "
        "--vote 1h --quorum 3 --seed 1234",
    )
    found = await service.campaigns_in_channel(PLATFORM, CHANNEL)
    if not found:
        raise DemoFailed("the draft did not open a campaign")
    campaign = found[-1]
    thread = campaign.thread
    campaign = await _wait_stage(service, campaign.id, {Stage.VOTING}, bar, presenter.status)
    made["draft"] = _newest(campaign, 1)
    bar.advance()

    grid_id, grid = next(
        (mid, m)
        for mid, m in reversed(presenter.posts)
        if m.kind == MessageKind.GRID and m.round_no is not None
    )
    favourite, runner_up = grid.images[2].number, grid.images[5].number
    for user, number in ((ana, favourite), (ben, favourite), (chloe, runner_up)):
        emoji = NUMBER_EMOJI[[img.number for img in grid.images].index(number)]
        refusal = await service.handle_reaction(PLATFORM, grid_id, emoji, user, added=True)
        if refusal:
            raise DemoFailed(f"{user.name}'s vote was refused: {refusal}")
    before = campaign.next_number
    campaign = await _wait_stage(service, campaign.id, {Stage.EDITING}, bar, presenter.status)
    bar.advance()
    made["vote"] = list(campaign.rounds[0].winners)
    made["refine"] = _newest(campaign, before)
    bar.advance()

    refined = made["refine"][0]
    size = campaign.candidates[refined]
    box = f"{size.width // 4},{size.height // 4},{size.width // 2},{size.height // 2}"
    edits = [
        ("inpaint", f"/inpaint {{n}} a red door with a brass knocker --box {box}", {Stage.EDITING}),
        ("outpaint", "/outpaint {n} --zoom 1.5", {Stage.EDITING}),
        ("upscale", "/upscale {n} 4 --faces", {Stage.DONE}),
    ]
    source = refined
    for name, template, until in edits:
        before = campaign.next_number
        await _say(service, thread, ana, template.format(n=source))
        campaign = await _wait_stage(service, campaign.id, until, bar, presenter.status)
        made[name] = _newest(campaign, before)
        if not made[name]:
            raise DemoFailed(f"{name} produced no image")
        source = made[name][0]
        bar.advance()
    return campaign, made


def write_outputs(
    out: Path,
    service: CampaignService,
    campaign: Campaign,
    made: dict[str, list[int]],
    tallies: dict[int, list[tuple[str, float]]],
) -> None:
    out.mkdir(parents=True, exist_ok=True)
    paths: dict[int, str] = {}
    for stage, numbers in made.items():
        if stage == "vote":
            continue
        (out / stage).mkdir(exist_ok=True)
        for n in numbers:
            c = campaign.candidates[n]
            paths[n] = f"{stage}/{n:03d}-seed{c.seed}.png"
            (out / paths[n]).write_bytes(service.read_artifact(c.artifact))
    votes = {n: [u for u, _ in voters] for n, voters in tallies.items()}
    doc = {
        "campaign": json.loads(campaign.model_dump_json()),
        "stages": {k: v for k, v in made.items()},
        "votes_round_1": {str(n): users for n, users in votes.items()},
        "ledger_total_device_seconds": campaign.spent_seconds(),
    }
    (out / "campaign.json").write_text(json.dumps(doc, indent=2))
    model = campaign.candidates[min(campaign.candidates)].model if campaign.candidates else ""
    (out / "index.html").write_text(demo_page(campaign, made, votes, paths, model.startswith("tiny")))


async def _demo(config: Config, out: Path) -> int:
    presenter = DemoPresenter()
    async with running_stack(config, {PLATFORM: presenter}) as stack:
        try:
            campaign, made = await run_demo(stack.service, presenter)
        except DemoFailed as exc:
            print(f"\ndraftloop demo failed: {exc}", file=sys.stderr)
            return 1
        tallies = await stack.service.tally(campaign.id, 1)
        write_outputs(out, stack.service, campaign, made, tallies)
    print(f"draftloop demo: every stage produced its images; open {out / 'index.html'}")
    return 0


def demo_main(config: Config, out: str) -> int:
    out_dir = Path(out).resolve()
    if config.data_dir == Config().data_dir and not config.redis_url:
        config = replace(config, data_dir=out_dir / ".data")
    return asyncio.run(_demo(config, out_dir))
