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
        ({"DRAFTLOOP_WEB_HOST": ""}, "DRAFTLOOP_WEB_HOST must not be empty"),
        ({"DRAFTLOOP_WEB_HOST": "", "DRAFTLOOP_WEB_TOKEN": "t"}, "DRAFTLOOP_WEB_HOST must not be empty"),
        ({"DRAFTLOOP_DTYPE": "fp8"}, "DRAFTLOOP_DTYPE must be auto, fp16, bf16 or fp32, got 'fp8'"),
        ({"DRAFTLOOP_CPU_OFFLOAD": "yes"}, "DRAFTLOOP_CPU_OFFLOAD must be off or model, got 'yes'"),
        (
            {"DRAFTLOOP_VISIBILITY_TIMEOUT": "0"},
            "DRAFTLOOP_VISIBILITY_TIMEOUT must be a number of seconds above 0",
        ),
        (
            {"DRAFTLOOP_VISIBILITY_TIMEOUT": "soon"},
            "DRAFTLOOP_VISIBILITY_TIMEOUT must be a number, got 'soon'",
        ),
        ({"DRAFTLOOP_ALLOW_DOWNLOAD": "maybe"}, "DRAFTLOOP_ALLOW_DOWNLOAD must be one of 1, 0, true"),
        ({"DRAFTLOOP_MAX_BATCH": "0"}, "DRAFTLOOP_MAX_BATCH must be 1 or more"),
        ({"DRAFTLOOP_WEB_PORT": "70000"}, "DRAFTLOOP_WEB_PORT must be a port number"),
        ({"DRAFTLOOP_LOG_LEVEL": "chatty"}, "DRAFTLOOP_LOG_LEVEL must be DEBUG, INFO"),
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


def test_engine_settings_are_read_like_the_others(tmp_path: Path) -> None:
    toml = tmp_path / "draftloop.toml"
    toml.write_text('dtype = "bf16"\ncpu_offload = "model"\nvisibility_timeout = 15\nallow_download = true\n')
    config = load_config({"DRAFTLOOP_CONFIG": str(toml), "DRAFTLOOP_DTYPE": "fp32"})
    assert (config.dtype, config.cpu_offload, config.visibility_timeout) == ("fp32", "model", 15.0)
    assert config.allow_download is True
    defaults = load_config({})
    assert (defaults.dtype, defaults.cpu_offload, defaults.visibility_timeout) == ("auto", "off", 10.0)
    assert defaults.allow_download is False and defaults.weights_dir is None


def test_old_names_are_read_with_one_warning_each(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level("WARNING", logger="draftloop.config"):
        config = load_config({"DRAFTLOOP_DATA": "/srv/dl", "DRAFTLOOP_LOG": "DEBUG"})
    assert config.data_dir == Path("/srv/dl") and config.log_level == "DEBUG"
    assert [r.getMessage() for r in caplog.records] == [
        "DRAFTLOOP_DATA is deprecated: use DRAFTLOOP_DATA_DIR",
        "DRAFTLOOP_LOG is deprecated: use DRAFTLOOP_LOG_LEVEL",
    ]
    caplog.clear()
    with caplog.at_level("WARNING", logger="draftloop.config"):
        config = load_config({"DRAFTLOOP_DATA": "/old", "DRAFTLOOP_DATA_DIR": "/new"})
    assert config.data_dir == Path("/new")
    assert [r.getMessage() for r in caplog.records] == [
        "DRAFTLOOP_DATA is deprecated and ignored: DRAFTLOOP_DATA_DIR is set"
    ]


def test_worker_settings_come_from_the_one_config_with_flags_on_top(tmp_path: Path) -> None:
    from bot.worker_cli import build_parser, worker_settings

    toml = tmp_path / "draftloop.toml"
    toml.write_text('max_batch = 4\ndtype = "fp16"\nvisibility_timeout = 20\n')
    env = {
        "DRAFTLOOP_CONFIG": str(toml),
        "DRAFTLOOP_DATA": str(tmp_path / "old"),
        "DRAFTLOOP_CPU_OFFLOAD": "model",
        "REDIS_URL": "redis://db:6379/0",
        # a worker's environment lacks the playground token: the bot's checks are not the worker's
        "DRAFTLOOP_WEB_HOST": "0.0.0.0",
    }
    config = load_config(env, role="worker")
    settings = worker_settings(config, build_parser().parse_args(["--dtype", "bf16", "--worker-id", "gpu1"]))
    assert settings.redis_url == "redis://db:6379/0" and settings.data_dir == tmp_path / "old"
    assert (settings.max_batch, settings.dtype, settings.cpu_offload) == (4, "bf16", "model")
    assert settings.visibility_timeout_s == 20.0 and settings.worker_id == "gpu1"
    assert settings.tiny is None and settings.model is None
    flags = ["--redis", "redis://other", "--data", "/d", "--max-batch", "2", "--visibility-timeout", "5"]
    flagged = worker_settings(config, build_parser().parse_args([*flags, "--tiny", "--cpu-offload", "off"]))
    assert (flagged.redis_url, flagged.data_dir, flagged.max_batch) == ("redis://other", Path("/d"), 2)
    assert flagged.visibility_timeout_s == 5.0 and flagged.tiny and flagged.cpu_offload == "off"
    with pytest.raises(ConfigError, match=re.escape("DRAFTLOOP_WEB_HOST=0.0.0.0 binds beyond loopback")):
        load_config(env)
    with pytest.raises(ConfigError, match="DRAFTLOOP_VISIBILITY_TIMEOUT must be a number of seconds"):
        worker_settings(config, build_parser().parse_args(["--visibility-timeout", "-1"]))


def test_worker_refuses_bad_settings_before_starting(tmp_path: Path) -> None:
    out = subprocess.run(
        [sys.executable, "-m", "bot.cli", "worker", "--data", str(tmp_path)],
        capture_output=True,
        text=True,
        env={"PATH": "/usr/bin:/bin", "DRAFTLOOP_DTYPE": "fp8", "REDIS_URL": "redis://127.0.0.1:1"},
    )
    assert out.returncode == 2
    assert "draftloop worker: DRAFTLOOP_DTYPE must be auto, fp16, bf16 or fp32, got 'fp8'" in out.stderr
