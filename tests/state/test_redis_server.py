from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import redis

from bot.redis_server import EmbeddedRedis


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0]
    except (FileNotFoundError, ProcessLookupError):
        return False
    return state != "Z"


def test_data_survives_a_restart_through_the_append_only_file(tmp_path: Path) -> None:
    server = EmbeddedRedis(tmp_path)
    with server:
        assert server.url == f"unix://{server.socket}"
        client = redis.Redis(unix_socket_path=str(server.socket))
        client.set("dl:probe", "kept")
        assert client.config_get("appendonly") == {"appendonly": "yes"}
        assert client.config_get("port") == {"port": "0"}
        client.close()
    assert not server.running
    assert (tmp_path / "appendonly.aof").exists()
    with EmbeddedRedis(tmp_path) as again:
        client = redis.Redis(unix_socket_path=str(again.socket))
        assert client.get("dl:probe") == b"kept"
        client.close()


def test_a_long_data_dir_gets_a_short_socket_path(tmp_path: Path) -> None:
    deep = tmp_path / ("d" * 60) / ("e" * 60)
    with EmbeddedRedis(deep) as server:
        assert len(str(server.socket)) < 100
        assert redis.Redis(unix_socket_path=str(server.socket)).ping()
    assert (deep / "appendonly.aof").exists()


async def test_async_context_manager(tmp_path: Path) -> None:
    import redis.asyncio as aioredis

    async with EmbeddedRedis(tmp_path) as server:
        client = aioredis.Redis.from_url(server.url)
        assert await client.ping()
        await client.aclose()
    assert not server.running


def test_the_server_dies_with_the_process_that_started_it(tmp_path: Path) -> None:
    script = textwrap.dedent(
        f"""
        import sys, time
        from bot.redis_server import EmbeddedRedis
        server = EmbeddedRedis({str(tmp_path)!r}).start()
        print(server._proc.pid, flush=True)
        time.sleep(600)
        """
    )
    parent = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    assert parent.stdout is not None
    child_pid = int(parent.stdout.readline())
    assert _alive(child_pid)
    os.kill(parent.pid, signal.SIGKILL)
    parent.wait()
    for _ in range(600):  # wait for the kernel's death signal to take effect
        if not _alive(child_pid):
            break
        time.sleep(0.05)
    assert not _alive(child_pid)
