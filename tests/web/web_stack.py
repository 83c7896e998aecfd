"""Test helpers: the web playground over the real service and a real Redis; ``deliver`` plays the engine."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import redis.asyncio as aioredis
from aiohttp.test_utils import TestClient

from adapters.web.app import WebApp
from adapters.web.presenter import WebPresenter
from bot.service import CampaignService
from engine.artifacts import ArtifactStore
from tests.support.engine_standin import EngineStandIn

Client = TestClient[Any, Any]  # the playground under aiohttp's test client (tests/web/conftest.py)


@dataclass
class Stack(EngineStandIn):
    redis: aioredis.Redis
    presenter: WebPresenter
    service: CampaignService
    artifacts: ArtifactStore
    web: WebApp
    data_dir: Path


def make_stack(
    redis: aioredis.Redis,
    data_dir: Path,
    *,
    host: str = "127.0.0.1",
    port: int = 0,
    token: str | None = None,
    max_upload_bytes: int = 10 * 1024 * 1024,
) -> Stack:
    presenter = WebPresenter(state_path=data_dir / "web" / "playground.json")
    artifacts = ArtifactStore(data_dir / "artifacts")
    service = CampaignService(redis, artifacts, presenters={"web": presenter})
    web = WebApp(service, presenter, host=host, port=port, token=token, max_upload_bytes=max_upload_bytes)
    return Stack(redis, presenter, service, artifacts, web, data_dir)
