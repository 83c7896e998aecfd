"""Scale-out: `draftloop bot` and two `draftloop worker` processes sharing one Redis."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from bot.redis_server import EmbeddedRedis
from tests.stack.upstack import UpProcess, free_port, processes_mentioning

pytestmark = pytest.mark.slow


def _stage(bot: UpProcess, thread_id: str) -> str | None:
    for channel in bot.get("/api/channels")["channels"]:
        for thread in channel["threads"]:
            if thread["id"] == thread_id:
                return thread.get("stage")
    return None


def test_a_bot_and_two_workers_share_one_redis(tmp_path: Path) -> None:
    redis = EmbeddedRedis(tmp_path / "redis").start()
    shared = tmp_path / "shared"  # the artifact store every process reads and writes
    env = {"REDIS_URL": redis.url}
    bot = UpProcess(shared, free_port(), env, command="bot")
    workers = [
        UpProcess(shared, free_port(), env, command=f"worker --data {shared} --tiny --worker-id gpu{i}")
        for i in range(2)
    ]
    try:
        bot.wait_ready()
        assert "0 worker(s)" in bot.output()

        def both_workers_reported() -> bool:
            return set(bot.get("/api/stats")["stats"]["workers"]) == {"gpu0", "gpu1"}

        bot.wait_for(both_workers_reported, "both workers' heartbeats", timeout=240)
        threads = []
        for prompt in ("a red kite", "a blue kite", "a green kite"):
            sent = bot.post(
                "/api/send", {"user": "ana", "channel_id": "general", "text": f"/draft {prompt} --n 2"}
            )
            threads.append(sent["opened_thread"])
        for thread_id in threads:
            bot.wait_for(
                lambda t=thread_id: _stage(bot, t) == "voting", f"thread {thread_id} to reach voting"
            )
        counters = bot.get("/api/stats")["stats"]["counters"]
        assert counters["jobs"] == 3 and counters["images"] == 6
    finally:
        for proc in [bot, *workers]:
            assert proc.stop() == 0, proc.output()
        redis.stop()
    assert processes_mentioning(str(shared)) == []
    deadline = time.monotonic() + 10
    while processes_mentioning(str(tmp_path / "redis")) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert processes_mentioning(str(tmp_path / "redis")) == []
