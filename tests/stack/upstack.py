"""Run `draftloop up` as a user would: a subprocess on a private data dir and port."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

READY = "draftloop is ready:"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def processes_mentioning(text: str) -> list[int]:
    """Live processes whose command line or working directory mentions ``text`` (e.g. a data dir)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            cwd = os.readlink(entry / "cwd")
            state = (entry / "stat").read_text().split(") ", 1)[1][0]
        except OSError:
            continue
        if state != "Z" and (text in cmdline or cwd.startswith(text)):
            found.append(int(entry.name))
    return found


class UpProcess:
    def __init__(
        self, data_dir: Path, port: int, extra_env: dict[str, str] | None = None, command: str = "up"
    ) -> None:
        self.data_dir = data_dir
        self.port = port
        env = {k: v for k, v in os.environ.items() if k not in ("REDIS_URL", "DRAFTLOOP_MODEL")}
        env.update(
            {
                "DRAFTLOOP_DATA_DIR": str(data_dir),
                "DRAFTLOOP_WEB_PORT": str(port),
                "HF_HUB_OFFLINE": "1",
                "PYTHONUNBUFFERED": "1",
            }
        )
        env.update(extra_env or {})
        self.log_path = data_dir.parent / f"{command.split()[0]}-{port}.log"
        self._log = self.log_path.open("wb")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "bot.cli", *command.split()],
            env=env,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group, like a terminal's foreground job
        )

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def output(self) -> str:
        return self.log_path.read_text(errors="replace")

    def wait_ready(self, timeout: float = 240.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if READY in self.output():
                return
            if self.proc.poll() is not None:
                raise AssertionError(f"draftloop up exited with {self.proc.returncode}:\n{self.output()}")
            time.sleep(0.2)
        raise AssertionError(f"draftloop up was not ready in {timeout}s:\n{self.output()}")

    def stop(self, timeout: float = 60.0) -> int:
        if self.proc.poll() is None:
            # Ctrl-C in a terminal: SIGINT to every process of the foreground group
            os.killpg(self.proc.pid, signal.SIGINT)
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
                raise AssertionError(f"draftloop up ignored Ctrl-C:\n{self.output()}") from None
        self._log.close()
        return self.proc.returncode

    def get(self, path: str) -> Any:
        with urllib.request.urlopen(self.url + path, timeout=30) as resp:
            return json.loads(resp.read())

    def post(self, path: str, body: dict[str, Any]) -> Any:
        req = urllib.request.Request(
            self.url + path,
            data=json.dumps(body).encode(),
            headers={"Content-Type": "application/json", "X-Draftloop-Client": "tests"},
        )
        with urllib.request.urlopen(req, timeout=60) as resp:
            return json.loads(resp.read())

    def wait_for(self, predicate: Any, what: str, timeout: float = 300.0) -> Any:
        deadline = time.monotonic() + timeout
        last = None
        while time.monotonic() < deadline:
            last = predicate()
            if last:
                return last
            time.sleep(0.5)
        raise AssertionError(f"timed out waiting for {what}; last={last!r}\n{self.output()[-3000:]}")
