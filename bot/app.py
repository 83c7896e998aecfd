"""The wiring: the one place that builds Redis, workers, the service, its loops and the adapters."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import subprocess
import sys
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from redis.asyncio import Redis

from bot.config import Config
from bot.file_links import FileLinks
from bot.ports import Presenter
from bot.processes import spawn, stop
from bot.redis_server import EmbeddedRedis, RedisStartError
from bot.redis_supervisor import install_outage_log_filter, watch_embedded_redis
from bot.service import CampaignService
from bot.state.connection import RedisHealth, connect_redis
from bot.usecases.jobs import ResultConsumer
from bot.usecases.loops import run_service_loops
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
    redis_health: RedisHealth = field(default_factory=RedisHealth)

    @property
    def model(self) -> str:
        return self.config.model or TINY_MODEL

    def describe(self) -> str:
        where = f"embedded at {self.embedded.socket}" if self.embedded else "external"
        return f"redis {where}, {len(self.workers)} worker(s), model {self.model}"


# Workers never talk to chat platforms: their environment doesn't carry the platforms' secrets.
_CHAT_SECRETS = (
    "DISCORD_TOKEN",
    "SLACK_BOT_TOKEN",
    "SLACK_APP_TOKEN",
    "SLACK_SIGNING_SECRET",
    "DRAFTLOOP_WEB_TOKEN",
)


def worker_command(config: Config) -> list[str]:
    argv = [sys.executable, "-m", "bot.cli", "worker", "--data", str(config.data_dir)]
    argv += ["--max-batch", str(config.max_batch), "--compile", config.compile_mode]
    if config.model:
        argv += ["--model", config.model]
    elif not config.default_model():  # with a catalog the worker takes its default from it
        argv += ["--tiny"]
    return argv


def worker_env(config: Config, redis_url: str) -> dict[str, str]:
    """The Redis URL (which may hold a password) goes in the environment, not on the command line."""
    env = {k: v for k, v in os.environ.items() if k not in _CHAT_SECRETS}
    env["REDIS_URL"] = redis_url
    if config.tiny:
        env.setdefault("HF_HUB_OFFLINE", "1")
    return env


def start_workers(config: Config, redis_url: str) -> list[subprocess.Popen[bytes]]:
    return [spawn(worker_command(config), worker_env(config, redis_url)) for _ in range(config.workers)]


@contextlib.asynccontextmanager
async def running_stack(
    config: Config,
    presenters: Mapping[str, Presenter],
    *,
    with_workers: bool = True,
    supervise_redis: bool = True,
) -> AsyncIterator[Stack]:
    """Start everything but the adapters; stop it all, in reverse order, on the way out.

    The embedded Redis (when REDIS_URL is unset) is restarted whenever it exits, unless
    ``supervise_redis`` is False.
    """
    data_dir = config.data_dir.resolve()
    data_dir.mkdir(parents=True, exist_ok=True)
    embedded: EmbeddedRedis | None = None
    if config.redis_url:
        redis_url = config.redis_url
    else:
        embedded = await EmbeddedRedis(data_dir / "redis").astart()
        redis_url = embedded.url
    health = RedisHealth()
    redis = connect_redis(redis_url, health)
    service = CampaignService(
        redis,
        ArtifactStore(data_dir / "artifacts"),
        presenters,
        retention_seconds=int(config.retention_days * 86400),
        default_model=config.default_model() or TINY_MODEL,
        quota_images_per_day=config.quota_images_per_day,
    )
    workers = start_workers(config, redis_url) if with_workers else []
    stack = Stack(config, redis_url, redis, service, workers, embedded, health)
    stop_loops = asyncio.Event()
    loops = asyncio.create_task(run_service_loops(service, ResultConsumer(redis), stop_loops))
    supervisor = None
    if embedded is not None and supervise_redis:
        supervisor = asyncio.create_task(watch_embedded_redis(embedded, health, stop_loops))
    try:
        yield stack
    finally:
        stop_loops.set()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await asyncio.wait_for(loops, timeout=10)
        if supervisor is not None:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await asyncio.wait_for(supervisor, timeout=30)
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
                env = worker_env(stack.config, stack.redis_url)
                stack.workers[i] = spawn(worker_command(stack.config), env)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop_event.wait(), timeout=2.0)


@dataclass
class AdapterSlot:
    """One chat adapter as the wiring sees it: a presenter for the service, then start/stop."""

    name: str
    presenter: Presenter
    start: Callable[[CampaignService], Awaitable[str]]  # returns where it listens, for the ready line
    stop: Callable[[], Awaitable[None]]


def file_links(config: Config) -> FileLinks | None:
    """Signed links to full-size images, when the web app has a public address and a secret."""
    if not config.public_url or not config.link_secret:
        return None
    return FileLinks(config.link_secret, config.public_url)


def web_slot(config: Config) -> AdapterSlot:
    from adapters.web.app import WebApp
    from adapters.web.presenter import WebPresenter

    presenter = WebPresenter(state_path=config.data_dir.resolve() / "playground.json")
    apps: list[WebApp] = []

    async def start(service: CampaignService) -> str:
        links = file_links(config)
        app = WebApp(service, presenter, config.web_host, config.web_port, config.web_token, links=links)
        await app.start()
        apps.append(app)
        return app.url

    async def stop() -> None:
        for app in apps:
            await app.stop()

    return AdapterSlot("web", presenter, start, stop)


def discord_slot(config: Config) -> AdapterSlot | None:
    if not config.discord_token:
        return None
    from adapters.discord import DiscordPresenter, discord_adapter, discord_settings

    settings = discord_settings(config)
    if settings is None:
        return None
    links = file_links(config)
    presenter = DiscordPresenter(full_file_url=links.url if links is not None else None)
    adapters: list[Any] = []

    async def start(service: CampaignService) -> str:
        adapter = discord_adapter(settings, service, presenter)
        await adapter.start()
        adapters.append(adapter)
        return "discord gateway"

    async def stop() -> None:
        for adapter in adapters:
            await adapter.stop()

    return AdapterSlot("discord", presenter, start, stop)


def slack_slot(config: Config) -> AdapterSlot | None:
    if not config.slack_bot_token or not (config.slack_app_token or config.slack_signing_secret):
        return None
    from adapters.slack import SlackAdapter, SlackPresenter

    token, secret = config.slack_bot_token, config.slack_signing_secret
    presenter = SlackPresenter(token, api_url=config.slack_api_url)
    approvers = tuple(p.strip() for p in (config.slack_approvers or "").split(",") if p.strip())
    adapters: list[Any] = []

    async def start(service: CampaignService) -> str:
        adapter = SlackAdapter(
            token,
            secret,
            service,
            presenter,
            app_token=config.slack_app_token,
            api_url=config.slack_api_url,
            approver_user_ids=approvers,
            path=config.slack_path,
        )
        await adapter.start(config.slack_host, config.slack_port)
        adapters.append(adapter)
        if adapter.socket_mode:
            return "socket mode"
        return f"http://{config.slack_host}:{config.slack_port}{config.slack_path}"

    async def stop() -> None:
        for adapter in adapters:
            await adapter.stop()

    return AdapterSlot("slack", presenter, start, stop)


def adapter_slots(config: Config) -> list[AdapterSlot]:
    slots = [web_slot(config), discord_slot(config), slack_slot(config)]
    return [slot for slot in slots if slot is not None]


async def serve(config: Config, *, with_workers: bool) -> int:
    stop_event = asyncio.Event()
    _stop_on_signals(stop_event)
    slots = adapter_slots(config)
    presenters = {slot.presenter.platform: slot.presenter for slot in slots}
    async with running_stack(config, presenters, with_workers=with_workers) as stack:
        started: list[AdapterSlot] = []
        try:
            where = {}
            for slot in slots:
                where[slot.name] = await slot.start(stack.service)
                started.append(slot)
            watcher = asyncio.create_task(_watch_workers(stack, stop_event))
            others = ", ".join(f"{name} ({at})" for name, at in where.items() if name != "web")
            print(
                f"draftloop is ready: {where['web']}  ({stack.describe()}; adapters: web"
                f"{', ' + others if others else ''})",
                flush=True,
            )
            try:
                await stop_event.wait()
            finally:
                print("draftloop: stopping…", flush=True)
                watcher.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await watcher
        finally:
            for slot in reversed(started):
                try:
                    await slot.stop()
                except Exception:
                    log.exception("stopping the %s adapter failed", slot.name)
    print("draftloop: stopped", flush=True)
    return 0


def _setup_logging(config: Config) -> None:
    logging.basicConfig(
        level=getattr(logging, config.log_level.upper(), logging.INFO),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    install_outage_log_filter()
    log.debug("configuration: %s", config.redacted())


def _run(config: Config, *, with_workers: bool) -> int:
    _setup_logging(config)
    try:
        return asyncio.run(serve(config, with_workers=with_workers))
    except RedisStartError as exc:
        print(f"draftloop: {exc}", file=sys.stderr)
    except OSError as exc:
        print(
            f"draftloop: cannot listen: {exc.strerror or exc}. Is another draftloop running? "
            "Set DRAFTLOOP_WEB_PORT (or SLACK_PORT) to a free port.",
            file=sys.stderr,
        )
    return 2


def up(config: Config) -> int:
    return _run(config, with_workers=config.workers > 0)


def bot_only(config: Config) -> int:
    return _run(config, with_workers=False)
