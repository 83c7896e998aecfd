"""The state tests again, against Debian's redis-server 7.x as an external server reached over TCP.

``redis_server`` is overridden here: a private ``/usr/bin/redis-server`` on a free loopback port (and a
unix socket, for the tests that open a second client by path), so every test under this folder runs on
that server instead of the bundled one. Absent the binary, the tests are skipped, saying why.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

SYSTEM_REDIS = Path("/usr/bin/redis-server")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class SystemRedis:
    """A private /usr/bin/redis-server: append-only, loopback TCP on a free port plus a unix socket."""

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir
        self.port = _free_port()
        self.socket = data_dir / "redis.sock"
        self._proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def version(self) -> str:
        client = redis.Redis(host="127.0.0.1", port=self.port)
        try:
            return str(client.info("server")["redis_version"])
        finally:
            client.close()

    def start(self) -> SystemRedis:
        argv = [
            str(SYSTEM_REDIS),
            "--port", str(self.port),
            "--bind", "127.0.0.1",
            "--unixsocket", str(self.socket),
            "--unixsocketperm", "700",
            "--dir", str(self.data_dir),
            "--appendonly", "yes",
            "--save", "",
            "--daemonize", "no",
            "--logfile", str(self.data_dir / "redis.log"),
        ]  # fmt: skip
        self._proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL)
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                raise RuntimeError(f"{SYSTEM_REDIS} exited with {self._proc.returncode}")
            try:
                if redis.Redis(host="127.0.0.1", port=self.port, socket_timeout=1).ping():
                    return self
            except (redis.ConnectionError, redis.BusyLoadingError):
                time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"{SYSTEM_REDIS} did not answer on port {self.port}")

    def stop(self) -> None:
        if self._proc is not None and self._proc.poll() is None:
            self._proc.terminate()
            try:
                self._proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait()
        self._proc = None


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SystemRedis]:
    if not SYSTEM_REDIS.is_file() or shutil.which(str(SYSTEM_REDIS)) is None:
        pytest.skip(f"{SYSTEM_REDIS} is not installed (`apt-get install redis-server`, or `make setup`)")
    # a short path: a unix socket path holds at most 108 bytes
    server = SystemRedis(Path(tmp_path_factory.mktemp("sysredis")))
    if len(str(server.socket)) > 100:
        pytest.skip("the temp dir's path is too long for a unix socket")
    server.start()
    try:
        yield server
    finally:
        server.stop()
