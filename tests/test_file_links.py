"""Signed, expiring links to full-size images, served by the web app without its token."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import redis.asyncio as aioredis
from aiohttp.test_utils import TestClient, TestServer

from adapters.web.app import WebApp
from adapters.web.presenter import WebPresenter
from bot.file_links import FileLinks
from bot.service import CampaignService
from engine.artifacts import ArtifactStore
from tests.support.engine_standin import png


class Clock:
    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
async def served(
    redis: aioredis.Redis, tmp_data_dir: Path
) -> AsyncIterator[tuple[TestClient[Any, Any], FileLinks, ArtifactStore, Clock]]:
    clock = Clock()
    links = FileLinks("a-test-secret", "https://bot.example.com/", ttl_seconds=3600, clock=clock)
    presenter = WebPresenter(state_path=tmp_data_dir / "playground.json")
    artifacts = ArtifactStore(tmp_data_dir / "artifacts")
    service = CampaignService(redis, artifacts, presenters={"web": presenter})
    app = WebApp(service, presenter, token="playground-token", links=links)
    client: TestClient[Any, Any] = TestClient(TestServer(app.app, host="127.0.0.1"))
    await client.start_server()
    try:
        yield client, links, artifacts, clock
    finally:
        await client.close()


def local(url: str) -> str:
    return url.removeprefix("https://bot.example.com")


async def test_a_signed_link_serves_its_image_until_it_expires(
    served: tuple[TestClient[Any, Any], FileLinks, ArtifactStore, Clock],
) -> None:
    client, links, artifacts, clock = served
    image = png(48, 32, (10, 20, 30))
    key = artifacts.put(image)
    url = links.url(key)
    assert url.startswith(f"https://bot.example.com/files/{key}.png?exp=") and "a-test-secret" not in url
    assert (await client.get(f"/artifacts/{key}")).status == 401  # the playground's images need its token
    answer = await client.get(local(url))
    assert answer.status == 200 and await answer.read() == image
    other = artifacts.put(png(8, 8, (1, 2, 3)))
    forged = local(url).replace(key, other)  # another image under the same signature
    assert (await client.get(forged)).status == 403
    flipped = local(url)[:-1] + ("1" if url.endswith("0") else "0")  # one signature digit changed
    assert (await client.get(flipped)).status == 403
    assert (await client.get(local(url).rsplit("&sig=", 1)[0] + "&sig=" + "0" * 64)).status == 403
    clock.now += 3601
    assert (await client.get(local(url))).status == 403


def test_links_need_a_secret_and_never_show_it() -> None:
    with pytest.raises(ValueError):
        FileLinks("", "https://bot.example.com")
    assert "s3cret" not in repr(FileLinks("s3cret", "https://bot.example.com"))
