"""`draftloop up` as a newcomer runs it: starts, serves, stops cleanly, and comes back with its campaigns."""

from __future__ import annotations

import os
import signal
import time
import urllib.request
from pathlib import Path

import pytest

from tests.stack.upstack import UpProcess, free_port, processes_mentioning

pytestmark = pytest.mark.slow


def _campaign_stage(up: UpProcess, thread_id: str) -> str | None:
    for channel in up.get("/api/channels")["channels"]:
        for thread in channel["threads"]:
            if thread["id"] == thread_id:
                return thread.get("stage")
    return None


def test_up_serves_stops_cleanly_and_resumes(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    up = UpProcess(data_dir, free_port())
    try:
        up.wait_ready()
        assert up.get("/api/health")["ok"] is True
        sent = up.post(
            "/api/send", {"user": "ana", "channel_id": "general", "text": "/draft a red fox --n 2"}
        )
        thread_id = sent["opened_thread"]
        assert thread_id, sent
        # the worker really makes the drafts: the thread reaches voting with a grid of two images
        up.wait_for(lambda: _campaign_stage(up, thread_id) == "voting", "the drafts to be voted on")
        msgs = up.get(f"/api/messages?channel_id=general&thread_id={thread_id}&user=ana")["messages"]
        grids = [m for m in msgs if m.get("images")]
        assert grids and len(grids[-1]["images"]) == 2
        assert processes_mentioning(str(data_dir)), "redis-server and the worker run under the data dir"
    finally:
        code = up.stop()
    assert code == 0, up.output()
    assert "stopped" in up.output()
    assert "Traceback" not in up.output(), "Ctrl-C left errors behind"
    assert processes_mentioning(str(data_dir)) == [], "a process outlived `draftloop up`"

    again = UpProcess(data_dir, free_port())
    twin = None
    try:
        again.wait_ready()
        assert _campaign_stage(again, thread_id) == "voting", "the second `up` lost the campaign"
        # a third `up` on the data dir in use is refused, and the running one is unharmed
        twin = UpProcess(data_dir, free_port())
        assert twin.proc.wait(timeout=120) == 2
        assert "another draftloop" in twin.output() and "Traceback" not in twin.output()
        assert _campaign_stage(again, thread_id) == "voting"
        msgs = again.get(f"/api/messages?channel_id=general&thread_id={thread_id}&user=ana")["messages"]
        assert any(m.get("images") for m in msgs), "the thread's history is gone after a restart"
    finally:
        if twin is not None:
            twin.stop()
        assert again.stop() == 0
    assert processes_mentioning(str(data_dir)) == []


def test_up_refuses_to_bind_beyond_loopback_without_a_token(tmp_path: Path) -> None:
    up = UpProcess(tmp_path / "data", free_port(), {"DRAFTLOOP_WEB_HOST": "0.0.0.0"})
    code = up.proc.wait(timeout=60)
    up.stop()
    assert code == 2
    assert "DRAFTLOOP_WEB_TOKEN" in up.output()


def test_up_on_a_busy_port_says_so(tmp_path: Path) -> None:
    import socket

    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        up = UpProcess(tmp_path / "data", port, {"DRAFTLOOP_WORKERS": "0"})
        code = up.proc.wait(timeout=120)
        up.stop()
    assert code == 2
    assert "cannot listen" in up.output() and "DRAFTLOOP_WEB_PORT" in up.output()
    assert "Traceback" not in up.output()
    assert processes_mentioning(str(tmp_path / "data")) == []


def _metric(up: UpProcess, name: str) -> float | None:
    with urllib.request.urlopen(up.url + "/metrics", timeout=30) as resp:
        for line in resp.read().decode().splitlines():
            if line.startswith(name + " "):
                return float(line.split()[1])
    return None


def _redis_server_pid(data_dir: Path) -> int:
    for pid in processes_mentioning(str(data_dir)):
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
        except OSError:
            continue
        if b"redis-server" in cmdline:
            return pid
    raise AssertionError(f"no redis-server runs under {data_dir}")


def test_up_restarts_a_killed_redis_from_its_append_only_file(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    up = UpProcess(data_dir, free_port(), {"DRAFTLOOP_WORKERS": "0"})
    try:
        up.wait_ready()
        sent = up.post(
            "/api/send", {"user": "ana", "channel_id": "general", "text": "/draft a kept fox --n 2"}
        )
        thread_id = sent["opened_thread"]
        info = up.get(f"/api/messages?channel_id=general&thread_id={thread_id}&user=ana")["thread"]
        campaign_id = info["campaign_id"]
        assert campaign_id and _metric(up, "draftloop_redis_up") == 1
        time.sleep(1.5)  # the append-only file is written every second
        log_before = len(up.output().splitlines())

        killed = _redis_server_pid(data_dir)
        os.kill(killed, signal.SIGKILL)
        up.wait_for(lambda: _metric(up, "draftloop_redis_restarts_total") == 1, "Redis to be restarted", 60)
        assert _redis_server_pid(data_dir) != killed
        assert _metric(up, "draftloop_redis_up") == 1
        kept = up.get(f"/api/campaign/{campaign_id}")["campaign"]
        assert kept["settings"]["prompt"] == "a kept fox"
        again = up.post(
            "/api/send", {"user": "ben", "channel_id": "general", "text": "/draft a new owl --n 2"}
        )
        assert again["opened_thread"]
        new_lines = up.output().splitlines()[log_before:]
        assert sum("restarted it from its append-only file" in line for line in new_lines) == 1
        assert len(new_lines) < 20, "\n".join(new_lines)  # one outage, a few lines: not one per request
    finally:
        code = up.stop()
    assert code == 0, up.output()
    assert processes_mentioning(str(data_dir)) == []
