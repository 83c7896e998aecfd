"""Configuration: environment over TOML over defaults, clear errors, secrets never shown."""

from __future__ import annotations

import re
import subprocess
import sys
from dataclasses import fields
from pathlib import Path

import pytest

from bot.config import Config, ConfigError, load_config


def test_defaults_need_no_configuration() -> None:
    config = load_config({})
    assert config.web_host == "127.0.0.1" and config.web_port == 8765
    assert config.redis_url is None and config.tiny
    assert config.retention_days == 30


def test_environment_wins_over_the_toml_file(tmp_path: Path) -> None:
    toml = tmp_path / "draftloop.toml"
    toml.write_text('web_port = 9001\nmax_batch = 4\nmodel = "/models/sdxl"\n')
    config = load_config({"DRAFTLOOP_CONFIG": str(toml), "DRAFTLOOP_WEB_PORT": "9100"})
    assert config.web_port == 9100
    assert config.max_batch == 4
    assert config.model == "/models/sdxl" and not config.tiny


@pytest.mark.parametrize(
    ("env", "needle"),
    [
        ({"DRAFTLOOP_WEB_PORT": "eighty"}, "DRAFTLOOP_WEB_PORT must be a whole number, got 'eighty'"),
        ({"DRAFTLOOP_WEB_HOST": "0.0.0.0"}, "set DRAFTLOOP_WEB_TOKEN too"),
        ({"DRAFTLOOP_CONFIG": "/nonexistent/draftloop.toml"}, "cannot read config file"),
        ({"DRAFTLOOP_COMPILE": "fast"}, "DRAFTLOOP_COMPILE must be off, default, reduce-overhead"),
        ({"SLACK_BOT_TOKEN": "xoxb-1"}, "SLACK_SIGNING_SECRET is not"),
        ({"DISCORD_TOKEN": "t", "DISCORD_GUILD_IDS": "12,abc"}, "DISCORD_GUILD_IDS must be comma-separated"),
    ],
)
def test_bad_settings_get_a_specific_answer(env: dict[str, str], needle: str) -> None:
    with pytest.raises(ConfigError, match=re.escape(needle)):
        load_config(env)


def test_unknown_toml_settings_are_named(tmp_path: Path) -> None:
    toml = tmp_path / "draftloop.toml"
    toml.write_text("web_prot = 1\n")
    with pytest.raises(ConfigError, match=r"unknown settings .*web_prot"):
        load_config({"DRAFTLOOP_CONFIG": str(toml)})


def test_secrets_are_redacted() -> None:
    config = load_config(
        {
            "DRAFTLOOP_WEB_HOST": "0.0.0.0",
            "DRAFTLOOP_WEB_TOKEN": "s3cret-token",
            "REDIS_URL": "redis://:hunter2@db.internal:6379/0",
        }
    )
    shown = repr(config.redacted())
    assert "s3cret-token" not in shown and "hunter2" not in shown
    assert "db.internal:6379/0" in shown


def test_up_help_documents_every_setting() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "bot.cli", "up", "--help"], capture_output=True, text=True, check=True
    ).stdout
    for f in fields(Config):
        assert f.metadata["env"] in out, f.name
    assert "DRAFTLOOP_CONFIG" in out


def test_help_lists_the_subcommands() -> None:
    out = subprocess.run([sys.executable, "-m", "bot.cli", "--help"], capture_output=True, text=True).stdout
    for name in ("up", "bot", "worker", "demo", "bench", "models"):
        assert f"    {name} " in out


def test_a_restarted_worker_gets_the_environment_of_the_first(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import asyncio

    from bot.app import Stack, _watch_workers
    from bot.processes import stop

    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.setenv("DISCORD_TOKEN", "chat-secret-the-worker-never-needs")
    exited = subprocess.Popen([sys.executable, "-c", "pass"])
    exited.wait()
    stack = Stack(Config(data_dir=tmp_path), "redis://127.0.0.1:1", None, None, [exited])  # type: ignore[arg-type]

    async def one_round() -> None:
        stop_event = asyncio.Event()
        watcher = asyncio.create_task(_watch_workers(stack, stop_event))
        await asyncio.sleep(0)  # its first look at the workers restarts the exited one
        stop_event.set()
        await watcher

    asyncio.run(one_round())
    restarted = stack.workers[0]
    assert restarted is not exited
    try:
        environ = Path(f"/proc/{restarted.pid}/environ").read_bytes().split(b"\0")
        cmdline = Path(f"/proc/{restarted.pid}/cmdline").read_bytes()
    finally:
        stop(restarted)
    assert b"HF_HUB_OFFLINE=1" in environ
    assert b"REDIS_URL=redis://127.0.0.1:1" in environ
    assert not any(b"chat-secret" in var for var in environ)
    assert b"worker" in cmdline and b"redis://" not in cmdline
