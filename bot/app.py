"""The wiring: the one place that builds Redis, workers, the service, its loops and the adapters."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import subprocess
import sys
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from redis.asyncio import Redis

from bot.config import Config
from bot.jobs import ResultConsumer
from bot.loops import run_service_loops
from bot.ports import Presenter
from bot.processes import spawn, stop
from bot.redis_server import EmbeddedRedis
from bot.service import CampaignService
from engine.artifacts import ArtifactStore

log = logging.getLogger("draftloop")

TINY_MODEL = "tiny-sd"


@dataclass
class Stack:
    """A running draftloop: Redis, engine workers, the service and its background loops."""

    config: Config
    redis_url: str
    redis: Redis
    service: CampaignService
    workers: list[subprocess.Popen[bytes]] = field(default_factory=list)
    embedded: EmbeddedRedis | None = None

    @property
    def model(self) -> str:
        return self.config.model or TINY_MODEL

    def describe(self) -> str:
        where = f"embedded at {self.embedded.socket}" if self.embedded else "external"
        return f"redis {where}, {len(self.workers)} worker(s), model {self.model}"


def worker_command(config: Config, redis_url: str) -> list[str]:
    argv = [sys.executable, "-m", "bot.cli", "worker", "--redis", redis_url, "--data", str(config.data_dir)]
    argv += ["--max-batch", str(config.max_batch)]
    argv += ["--model", config.model] if config.model else ["--tiny"]
    return argv


def start_workers(config: Config, redis_url: str) -> list[subprocess.Popen[bytes]]:
    env = dict(os.environ)
    env.setdefault("HF_HUB_OFFLINE", "1" if config.tiny else env.get("HF_HUB_OFFLINE", "0"))
    return [spawn(worker_command(config, redis_url), env) for _ in range(config.workers)]


@contextlib.asynccontextmanager
async def running_stack(
    config: Config, presenters: Mapping[str, Presenter], *, with_workers: bool = True
) -> AsyncIterator[Stack]:
    """Start everything but the adapters; stop it all, in reverse order, on the way out."""
    data_dir = config.data_dir.resolve()
    data_dir.mkdir(parents=True, exist_ok=True)
    embedded: EmbeddedRedis | None = None
    if config.redis_url:
        redis_url = config.redis_url
    else:
        embedded = await EmbeddedRedis(data_dir / "redis").astart()
        redis_url = embedded.url
    redis = Redis.from_url(redis_url)
    service = CampaignService(
        redis,
        ArtifactStore(data_dir / "artifacts"),
        presenters,
        retention_seconds=int(config.retention_days * 86400),
        default_model=config.model or TINY_MODEL,
        quota_images_per_day=config.quota_images_per_day,
    )
    workers = start_workers(config, redis_url) if with_workers else []
    stack = Stack(config, redis_url, redis, service, workers, embedded)
    stop_loops = asyncio.Event()
    loops = asyncio.create_task(run_service_loops(service, ResultConsumer(redis), stop_loops))
    try:
        yield stack
    finally:
        stop_loops.set()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await asyncio.wait_for(loops, timeout=10)
        for proc in workers:
            await asyncio.to_thread(stop, proc)
        await redis.aclose()
        if embedded is not None:
            await asyncio.to_thread(embedded.stop)


def _stop_on_signals(stop_event: asyncio.Event) -> None:
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop_event.set)


async def _watch_workers(stack: Stack, stop_event: asyncio.Event) -> None:
    """A worker that dies is restarted: its unfinished jobs are reclaimed by the consumer group."""
    while not stop_event.is_set():
        for i, proc in enumerate(stack.workers):
            if proc.poll() is not None and not stop_event.is_set():
                log.warning("engine worker exited with %s; starting another", proc.returncode)
                stack.workers[i] = spawn(worker_command(stack.config, stack.redis_url))
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop_event.wait(), timeout=2.0)


async def serve(config: Config, *, with_workers: bool) -> int:
    from adapters.web.app import WebApp
    from adapters.web.presenter import WebPresenter

    stop_event = asyncio.Event()
    _stop_on_signals(stop_event)
    data_dir = config.data_dir.resolve()
    presenter = WebPresenter(state_path=data_dir / "playground.json")
    async with running_stack(config, {presenter.platform: presenter}, with_workers=with_workers) as stack:
        web = WebApp(stack.service, presenter, config.web_host, config.web_port, config.web_token)
        await web.start()
        watcher = asyncio.create_task(_watch_workers(stack, stop_event))
        print(
            f"draftloop is ready: {web.url}  ({stack.describe()}; adapters: web — "
            "Discord and Slack adapters are not in this release)",
            flush=True,
        )
        try:
            await stop_event.wait()
        finally:
            print("draftloop: stopping…", flush=True)
            watcher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await watcher
            await web.stop()
    print("draftloop: stopped", flush=True)
    return 0


def _setup_logging(config: Config) -> None:
    logging.basicConfig(
        level=getattr(logging, config.log_level.upper(), logging.INFO),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    log.debug("configuration: %s", config.redacted())


def up(config: Config) -> int:
    _setup_logging(config)
    return asyncio.run(serve(config, with_workers=config.workers > 0))


def bot_only(config: Config) -> int:
    _setup_logging(config)
    return asyncio.run(serve(config, with_workers=False))


def data_path(config: Config, *parts: str) -> Path:
    return config.data_dir.resolve().joinpath(*parts)
