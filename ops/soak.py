"""Soak: faults against a real `draftloop up` through its HTTP API, bounded in time, then figures.

    python ops/soak.py --minutes 3        (or: make soak SOAK_MINUTES=3)

It starts `draftloop up` (tiny offline models, one worker) on a private data dir and port, then runs, each
within its share of the time: a 1,000-request reaction burst, same-user react/unreact races, kills of
the embedded redis-server mid-vote, hostile uploads, an HTTP fuzz with invalid Unicode, and 20 kills of
the engine worker as soon as it runs a batch (that phase may run past the budget: each kill costs a
worker start). It prints what matters: HTTP 5xx answers, lost jobs, duplicate posts, page-vs-Redis
disagreements, Redis restarts and the recovery time of each killed process (median and max). Exit
status 1 when any 5xx, lost job, duplicate post or disagreement was seen.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import random
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import redis.asyncio as aioredis

ROOT = Path(__file__).resolve().parent.parent
READY = "draftloop is ready:"
CHANNEL = "general"
NUMBERS = ["1️⃣", "2️⃣", "3️⃣", "4️⃣"]
WORKER_KILLS = 20
JOBS_STREAM, ENGINE_GROUP = "dl:jobs:interactive", "engine"
MAX_ATTEMPTS = 3  # a worker's max_attempts: a job delivered this often is on its last try
OVERRUN_SECONDS = 180.0  # how far the phases may run past the budget before the hard stop


@dataclass
class Figures:
    requests: Counter[str] = field(default_factory=Counter)  # status class -> count
    server_errors: list[str] = field(default_factory=list)
    retry_answers: int = 0  # 503 "try again in a moment"
    lost_jobs: int = 0
    duplicate_posts: int = 0
    disagreements: list[str] = field(default_factory=list)
    redis_restarts: int = 0
    burst: tuple[int, float] = (0, 0.0)  # reactions sent at once, seconds until the last answer
    redis_recovery_s: list[float] = field(default_factory=list)
    worker_restart_s: list[float] = field(default_factory=list)  # kill -> a new worker process runs
    worker_recovery_s: list[float] = field(default_factory=list)  # kill -> the killed batch runs again
    notes: list[str] = field(default_factory=list)

    def failed(self) -> bool:
        return bool(self.server_errors or self.lost_jobs or self.duplicate_posts or self.disagreements)

    def report(self) -> str:
        lines = [
            "soak figures",
            f"  HTTP answers by class:        {dict(sorted(self.requests.items()))}",
            f"  HTTP 5xx (503 excluded):      {len(self.server_errors)}",
            f"  reaction burst:               {self.burst[0]} votes in {self.burst[1]:.1f} s",
            f"  503 'try again' answers:      {self.retry_answers}",
            f"  lost jobs:                    {self.lost_jobs}",
            f"  duplicate posts:              {self.duplicate_posts}",
            f"  page-vs-Redis disagreements:  {len(self.disagreements)}",
            f"  Redis restarts (metrics):     {self.redis_restarts}",
            f"  Redis recovery, s:            {_seconds(self.redis_recovery_s)}",
            f"  worker kills mid-batch:       {len(self.worker_restart_s)}",
            f"  worker restart, s:            {_spread(self.worker_restart_s)}",
            f"  worker recovery, s:           {_spread(self.worker_recovery_s)}",
            f"  worker recovery per kill, s:  {_seconds(self.worker_recovery_s)}",
        ]
        lines += [f"  5xx: {e}" for e in self.server_errors[:10]]
        lines += [f"  disagreement: {d}" for d in self.disagreements[:10]]
        lines += [f"  note: {n}" for n in self.notes]
        return "\n".join(lines)


def _seconds(values: list[float]) -> str:
    return ", ".join(f"{v:.1f}" for v in values) if values else "-"


def _spread(values: list[float]) -> str:
    if not values:
        return "-"
    return f"median {statistics.median(values):.1f}, max {max(values):.1f} (over {len(values)})"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _pids(data_dir: Path, needle: str) -> list[int]:
    """Live processes whose command line holds ``needle`` and that run under ``data_dir``."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            cwd = os.readlink(entry / "cwd")
            state = (entry / "stat").read_text().split(") ", 1)[1][0]
        except OSError:
            continue
        under = str(data_dir) in cmdline or cwd.startswith(str(data_dir))
        if state != "Z" and needle in cmdline and under:
            found.append(int(entry.name))
    return found


class Up:
    """`draftloop up` in a subprocess on a private data dir and port."""

    def __init__(self, data_dir: Path, port: int, workers: int) -> None:
        self.data_dir = data_dir
        self.port = port
        self.workers = workers
        env = {k: v for k, v in os.environ.items() if k not in ("REDIS_URL", "DRAFTLOOP_MODEL")}
        env.update(
            {
                "DRAFTLOOP_DATA_DIR": str(data_dir),
                "DRAFTLOOP_WEB_PORT": str(port),
                "DRAFTLOOP_WORKERS": str(workers),
                "DRAFTLOOP_VISIBILITY_TIMEOUT": "5",  # a killed worker's batch is reclaimed after 5 s
                "HF_HUB_OFFLINE": "1",
                "PYTHONUNBUFFERED": "1",
            }
        )
        self.log_path = data_dir.parent / "up.log"
        self._log = self.log_path.open("wb")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "bot.cli", "up"],
            env=env,
            cwd=ROOT,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def output(self) -> str:
        return self.log_path.read_text(errors="replace")

    async def ready(self, within: float) -> None:
        deadline = time.monotonic() + within
        while READY not in self.output():
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"`draftloop up` did not become ready:\n{self.output()[-3000:]}")
            await asyncio.sleep(0.5)

    def stop(self) -> int:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGINT)
            try:
                self.proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        self._log.close()
        return self.proc.returncode


class Api:
    """The playground's HTTP API, counting every answer by status."""

    def __init__(self, session: aiohttp.ClientSession, base: str, figures: Figures) -> None:
        self.session = session
        self.base = base
        self.figures = figures

    def _count(self, method: str, path: str, status: int, body: str) -> None:
        self.figures.requests[f"{status // 100}xx"] += 1
        if status == 503:
            self.figures.retry_answers += 1
        elif status >= 500:
            self.figures.server_errors.append(f"{method} {path[:60]} -> {status} {body[:120]!r}")

    async def call(self, method: str, path: str, **kwargs: Any) -> tuple[int, Any]:
        try:
            async with self.session.request(method, self.base + path, **kwargs) as resp:
                text = await resp.text(errors="replace")
                self._count(method, path, resp.status, text)
                try:
                    return resp.status, json.loads(text)
                except ValueError:
                    return resp.status, text
        except (aiohttp.ClientError, TimeoutError) as exc:
            self.figures.requests["no answer"] += 1
            self.figures.server_errors.append(f"{method} {path[:60]} -> no answer ({type(exc).__name__})")
            return 0, None

    async def send(self, user: str, text: str, thread_id: str | None = None) -> dict[str, Any]:
        body = {"user": user, "channel_id": CHANNEL, "text": text, "thread_id": thread_id or ""}
        status, answer = await self.call("POST", "/api/send", json=body)
        return answer if status == 200 and isinstance(answer, dict) else {}

    async def react(self, user: str, message_id: str, emoji: str, added: bool | None) -> tuple[int, Any]:
        body: dict[str, Any] = {"user": user, "message_id": message_id, "emoji": emoji}
        if added is not None:
            body["added"] = added
        return await self.call("POST", "/api/react", json=body)

    async def messages(self, thread_id: str) -> list[dict[str, Any]]:
        path = f"/api/messages?channel_id={CHANNEL}&thread_id={thread_id}&user=ana"
        status, answer = await self.call("GET", path)
        return answer.get("messages", []) if status == 200 and isinstance(answer, dict) else []

    async def campaign_id(self, thread_id: str) -> str:
        status, answer = await self.call(
            "GET", f"/api/messages?channel_id={CHANNEL}&thread_id={thread_id}&user=ana"
        )
        thread = answer.get("thread") if status == 200 and isinstance(answer, dict) else None
        return str((thread or {}).get("campaign_id") or "")

    async def campaign(self, campaign_id: str) -> dict[str, Any] | None:
        status, answer = await self.call("GET", f"/api/campaign/{campaign_id}")
        return answer if status == 200 and isinstance(answer, dict) else None

    async def metric(self, name: str) -> float | None:
        status, text = await self.call("GET", "/metrics")
        if status != 200 or not isinstance(text, str):
            return None
        for line in text.splitlines():
            if line.startswith(name + " "):
                return float(line.split()[1])
        return None


async def _eventually(check: Callable[[], Awaitable[Any]], within: float, every: float = 0.5) -> Any:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        value = await check()
        if value:
            return value
        await asyncio.sleep(every)
    return None


async def _grid(api: Api, thread_id: str, within: float, every: float = 0.5) -> dict[str, Any] | None:
    async def find() -> dict[str, Any] | None:
        grids = [m for m in await api.messages(thread_id) if m.get("images") and m.get("round_no")]
        return grids[-1] if grids else None

    return await _eventually(find, within, every)


async def open_vote(api: Api, prompt: str, within: float) -> tuple[str, str, dict[str, Any] | None]:
    """A campaign to vote on: (thread id, campaign id, its voting grid once the worker drew it)."""
    sent = await api.send("ana", f"/draft {prompt} --n 4 --vote 2h")
    thread_id = str(sent.get("opened_thread") or "")
    if not thread_id:
        return "", "", None
    grid = await _grid(api, thread_id, within)
    campaign_id = str((grid or {}).get("campaign_id") or await api.campaign_id(thread_id))
    return thread_id, campaign_id, grid


async def voters_in_redis(redis: aioredis.Redis, campaign_id: str, round_no: int, number: int) -> set[str]:
    members = await redis.zrange(f"dl:votes:{campaign_id}:{round_no}:{number}", 0, -1)
    return {m.decode() if isinstance(m, bytes) else str(m) for m in members}


def _page_voters(grid: dict[str, Any], emoji: str) -> set[str]:
    return {u for r in grid.get("reactions", []) if r["emoji"] == emoji for u in r["users"]}


async def compare_votes(
    api: Api, redis: aioredis.Redis, thread_id: str, campaign_id: str, figures: Figures
) -> None:
    """The page's reactions on the grid against the votes Redis holds, number by number."""
    grid = await _grid(api, thread_id, 30)
    answer = await api.campaign(campaign_id)
    if grid is None or answer is None:
        figures.notes.append(f"no grid or campaign to compare in {thread_id}")
        return
    round_no = int(grid["round_no"])
    rounds = [r for r in answer["campaign"].get("rounds", []) if r.get("number") == round_no]
    candidates = rounds[0].get("candidates", []) if rounds else []
    for emoji, number in zip(NUMBERS, candidates, strict=False):
        page = _page_voters(grid, emoji) - {"draftloop"}
        stored = await voters_in_redis(redis, campaign_id, round_no, int(number))
        if page != stored:
            figures.disagreements.append(
                f"{campaign_id} {emoji}: page has {len(page)}, Redis {len(stored)} "
                f"(only on page {sorted(page - stored)[:3]}, only in Redis {sorted(stored - page)[:3]})"
            )


async def reaction_burst(api: Api, grid_id: str, size: int, figures: Figures) -> None:
    started = time.monotonic()
    await asyncio.gather(*(api.react(f"burst{i}", grid_id, NUMBERS[0], True) for i in range(size)))
    figures.burst = (size, time.monotonic() - started)


async def react_races(api: Api, grid_id: str, users: int, rounds: int) -> None:
    async def one(user: str) -> None:
        await asyncio.gather(
            *(api.react(user, grid_id, NUMBERS[1], random.random() < 0.5) for _ in range(rounds))
        )
        await asyncio.gather(*(api.react(user, grid_id, NUMBERS[1], None) for _ in range(rounds)))

    await asyncio.gather(*(one(f"racer{i}") for i in range(users)))


async def kill_redis_mid_vote(
    api: Api, up: Up, grid_id: str, campaign_id: str, kills: int, figures: Figures
) -> None:
    async def steady_votes() -> None:
        for start in range(0, 400, 20):
            await asyncio.gather(
                *(api.react(f"steady{i}", grid_id, NUMBERS[2], True) for i in range(start, start + 20))
            )

    voting = asyncio.create_task(steady_votes())
    for _ in range(kills):
        pids = _pids(up.data_dir, "redis-server")
        if not pids:
            figures.notes.append("no redis-server found to kill")
            break
        os.kill(pids[0], signal.SIGKILL)
        killed = time.monotonic()
        back = await _eventually(lambda: api.campaign(campaign_id), 60, every=0.1)
        if back is None:
            figures.notes.append("Redis did not come back within 60 s")
            break
        figures.redis_recovery_s.append(time.monotonic() - killed)
        await asyncio.sleep(1.0)
    await voting


def _bomb() -> bytes:
    import io

    from PIL import Image

    buf = io.BytesIO()
    Image.new("1", (6000, 6000)).save(buf, format="PNG")
    return buf.getvalue()


async def hostile_uploads(api: Api, figures: Figures) -> None:
    import io

    from PIL import Image

    def png(size: tuple[int, int]) -> bytes:
        buf = io.BytesIO()
        Image.new("RGB", size, (9, 9, 9)).save(buf, format="PNG")
        return buf.getvalue()

    good = png((64, 64))
    hostile = {
        "text.png": b"not an image at all",
        "bomb.png": _bomb(),
        "cut.png": good[: len(good) // 2],
        "huge.png": b"\x89PNG\r\n\x1a\n" + b"\0" * (11 * 1024 * 1024),
        "big16mp.png": png((4000, 4000)),
    }
    for name, data in hostile.items():
        form = aiohttp.FormData()
        form.add_field("user", "ana")
        form.add_field("channel_id", CHANNEL)
        form.add_field("text", f"/draft hostile {name} --n 1 --sref {name}")
        form.add_field("files", data, filename=name, content_type="image/png")
        status, answer = await api.call("POST", "/api/send", data=form)
        if status == 200 and isinstance(answer, dict) and name != "big16mp.png":
            if not any(name in r for r in answer.get("replies", [])):
                figures.notes.append(f"upload {name}: no specific refusal ({answer.get('replies')})")


def _fuzz_text(rng: random.Random) -> bytes:
    choices = [
        b'{"user": "ana", "channel_id": "general", "text": "/draft \\ud800 lone surrogate"}',
        b'{"user": "ana\xff\xfe", "channel_id": "general", "text": "/draft x"}',
        b'{"user": "ana", "channel_id": "general", "text": "/draft \xed\xa0\x80 encoded surrogate"}',
        b'{"user": "ana", "channel_id": "general", "text": "/vote \\udfff --n \\u0000"}',
        b'{"user": ["ana"], "channel_id": {"x": 1}, "text": 7}',
        b'{"user": "ana", "message_id": "\\ud83d", "emoji": "\\udc00", "added": "maybe"}',
        b'{"user": "ana", "action_id": "dl:\\ud800:x", "message_id": null}',
        b"[1, 2, 3]",
        b"\xff\xfe\xfd",
        b'{"user": "ana", "channel_id": "general", "text": "' + b"\xe2\x80\xae" * 5000 + b'"}',
    ]
    body = rng.choice(choices)
    if rng.random() < 0.3:
        cut = rng.randrange(1, len(body))
        body = body[:cut]
    return body


async def http_fuzz(api: Api, requests: int, seed: int = 7) -> None:
    rng = random.Random(seed)
    paths = ["/api/send", "/api/react", "/api/press", "/api/channels"]
    gets = [
        "/api/messages?channel_id=%ff%fe&user=%ed%a0%80",
        "/api/messages?channel_id=general&thread_id=\udcff",
        "/api/campaign/%ed%a0%80",
        "/api/campaign/" + "x" * 5000,
        "/artifacts/..%2f..%2fetc%2fpasswd",
        "/api/messages?channel_id=general&user=" + "%e2%80%ae" * 200,
    ]

    async def one(i: int) -> None:
        if i % 4 == 0:
            path = rng.choice(gets)
            with contextlib.suppress(ValueError, UnicodeError):
                await api.call("GET", path)
            return
        headers = {"Content-Type": "application/json"}
        if rng.random() < 0.2:
            headers["X-Request-Id"] = rng.choice(["ok-1", "\u00ff\u00fe", "a" * 300])
        with contextlib.suppress(ValueError, UnicodeError):
            await api.call("POST", rng.choice(paths), data=_fuzz_text(rng), headers=headers)

    for start in range(0, requests, 50):
        await asyncio.gather(*(one(i) for i in range(start, min(requests, start + 50))))


def _worker_pid(consumer: str) -> int | None:
    """The process id in an engine consumer name (``{host}-{pid}-{random}``); None for the pool's own."""
    parts = consumer.rsplit("-", 2)
    return int(parts[1]) if len(parts) == 3 and parts[1].isdigit() else None


async def _in_flight(redis: aioredis.Redis) -> dict[str, tuple[str, int]]:
    """Jobs taken and not yet acknowledged: entry id -> (consumer, times delivered)."""
    try:
        rows = await redis.xpending_range(JOBS_STREAM, ENGINE_GROUP, "-", "+", 1000)
    except aioredis.ResponseError:  # the group is made with the first job
        return {}
    return {_text(r["message_id"]): (_text(r["consumer"]), int(r["times_delivered"])) for r in rows}


def _text(value: object) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


async def kill_workers_mid_batch(
    api: Api, up: Up, redis: aioredis.Redis, kills: int, figures: Figures, stop_at: float
) -> list[str]:
    """The worker killed as soon as it runs a batch, ``kills`` times (none started after ``stop_at``).

    Each kill is timed until a new worker process runs (restart) and until the killed batch runs again
    in it (recovery: spawn, model load and warm-up, then the jobs taken back). A job is never killed on
    its last attempt, so every job must still be drawn. Returns the threads that must reach voting."""
    threads = []
    for k in range(kills):
        if time.monotonic() > stop_at:
            figures.notes.append(f"worker kills stopped at {k} of {kills}: the time budget ran out")
            break
        sent = await api.send("ben", f"/draft worker kill {k} --n 1 --vote 2h")
        thread_id = str(sent.get("opened_thread") or "")
        if not thread_id:
            figures.notes.append(f"worker kill {k}: the draft opened no thread")
            continue
        threads.append(thread_id)

        async def running_batch() -> tuple[int, set[str]] | None:
            live = set(_pids(up.data_dir, " worker "))
            by_worker: dict[int, set[str]] = {}
            last_attempt: set[int] = set()
            for entry, (consumer, delivered) in (await _in_flight(redis)).items():
                pid = _worker_pid(consumer)
                if pid in live:
                    by_worker.setdefault(pid, set()).add(entry)
                    if delivered >= MAX_ATTEMPTS:
                        last_attempt.add(pid)
            for pid, entries in by_worker.items():
                if pid not in last_attempt:
                    return pid, entries
            return None

        found = await _eventually(running_batch, 120, every=0.05)
        if not found:
            figures.notes.append(f"worker kill {k}: no worker ran a batch it could lose within 120 s")
            continue
        pid, batch = found
        os.kill(pid, signal.SIGKILL)
        killed = time.monotonic()

        async def replaced(pid: int = pid) -> bool:
            return any(other != pid for other in _pids(up.data_dir, " worker "))

        async def resumed(pid: int = pid, batch: set[str] = batch) -> bool:
            live = set(_pids(up.data_dir, " worker ")) - {pid}
            flight = await _in_flight(redis)
            # every killed job is done (acknowledged) or running in a live worker
            return all(e not in flight or _worker_pid(flight[e][0]) in live for e in batch)

        if not await _eventually(replaced, 60, every=0.1):
            figures.notes.append("the killed worker was not replaced within 60 s")
            break
        figures.worker_restart_s.append(time.monotonic() - killed)
        if not await _eventually(resumed, 120, every=0.1):
            figures.notes.append(f"worker kill {k}: the killed batch did not run again within 120 s")
            continue
        figures.worker_recovery_s.append(time.monotonic() - killed)
    return threads


async def count_outcomes(api: Api, threads: list[str], within: float, figures: Figures) -> None:
    """Lost jobs: threads with no grid by the deadline. Duplicate posts: the same post shown twice."""
    deadline = time.monotonic() + within
    for thread_id in threads:
        grid = await _grid(api, thread_id, max(0.5, deadline - time.monotonic()))
        if grid is None:
            figures.lost_jobs += 1
        posts = Counter(
            (m.get("text"), tuple(i.get("artifact") for i in m.get("images", [])))
            for m in await api.messages(thread_id)
            if m.get("author") != "ana" and m.get("images")
        )
        figures.duplicate_posts += sum(n - 1 for n in posts.values() if n > 1)


async def run_phases(api: Api, up: Up, redis: aioredis.Redis, figures: Figures, ends_at: float) -> None:
    def left() -> float:
        return ends_at - time.monotonic()

    thread_id, campaign_id, grid = await open_vote(api, "a soak lighthouse", within=max(60.0, left() / 3))
    threads = [thread_id] if thread_id else []
    if grid is None:
        figures.notes.append("no voting grid appeared in time: the vote phases were skipped")
    else:
        await reaction_burst(api, grid["id"], 1000, figures)
        await react_races(api, grid["id"], users=20, rounds=10)
        await kill_redis_mid_vote(api, up, grid["id"], campaign_id, kills=2, figures=figures)
        await compare_votes(api, redis, thread_id, campaign_id, figures)
    await hostile_uploads(api, figures)
    await http_fuzz(api, requests=400)
    if up.workers > 0:
        # each kill costs a worker start (imports, model load, warm-up: 5-15 s on 2 busy cores), so this
        # phase may run past the budget, up to the hard stop's margin
        threads += await kill_workers_mid_batch(
            api, up, redis, kills=WORKER_KILLS, figures=figures, stop_at=ends_at + OVERRUN_SECONDS / 2
        )
    await count_outcomes(api, threads, within=max(30.0, left()), figures=figures)
    figures.redis_restarts = int(await api.metric("draftloop_redis_restarts_total") or 0)


async def soak(minutes: float, workers: int, keep: bool) -> int:
    budget = minutes * 60
    figures = Figures()
    work = Path(tempfile.mkdtemp(prefix="dl-soak-"))
    up = Up(work / "data", _free_port(), workers)
    try:
        await up.ready(within=max(120.0, budget / 2))
        ends_at = time.monotonic() + budget
        timeout = aiohttp.ClientTimeout(total=60)
        connector = aiohttp.TCPConnector(limit=200)
        headers = {"X-Draftloop-Client": "soak"}  # the playground refuses POSTs without it (CSRF guard)
        async with aiohttp.ClientSession(timeout=timeout, connector=connector, headers=headers) as session:
            redis = aioredis.Redis(unix_socket_path=str(up.data_dir / "redis" / "redis.sock"))
            try:
                async with asyncio.timeout(
                    budget + OVERRUN_SECONDS
                ):  # a hard stop: the phases' own waits may overrun
                    await run_phases(Api(session, up.url, figures), up, redis, figures, ends_at)
            except TimeoutError:
                figures.notes.append("the phases overran the time budget: the figures are partial")
            finally:
                await redis.aclose()
    finally:
        code = up.stop()
        figures.notes.append(f"`draftloop up` exited with {code}; its log: {up.log_path}")
        log = up.output()
        figures.notes.append(f"log lines: {len(log.splitlines())}, tracebacks: {log.count('Traceback')}")
        if not keep:
            shutil.rmtree(work, ignore_errors=True)
    print(figures.report(), flush=True)
    return 1 if figures.failed() else 0


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--minutes", type=float, default=3.0, help="time budget (default 3)")
    parser.add_argument("--workers", type=int, default=1, help="engine workers `up` starts (default 1)")
    parser.add_argument("--keep", action="store_true", help="keep the data dir and log")
    args = parser.parse_args()
    return asyncio.run(soak(args.minutes, args.workers, args.keep))


if __name__ == "__main__":
    sys.exit(main())
