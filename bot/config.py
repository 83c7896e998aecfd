"""Configuration of every process (bot, worker, up): environment variables first, then an optional TOML
file, then defaults; `draftloop worker` flags win over all three.

Every setting is declared once here; `draftloop up --help` is generated from this table.
"""

from __future__ import annotations

import logging
import os
import tomllib
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

log = logging.getLogger("draftloop.config")

DEFAULT_WEB_PORT = 8765
COMPILE_MODES = ("off", "default", "reduce-overhead", "max-autotune")
DTYPES = ("auto", "fp16", "bf16", "fp32")
CPU_OFFLOAD_MODES = ("off", "model")
_LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "::1")
# old environment names still read (with a warning) when the new one is unset
DEPRECATED_ALIASES = {"DRAFTLOOP_DATA": "DRAFTLOOP_DATA_DIR", "DRAFTLOOP_LOG": "DRAFTLOOP_LOG_LEVEL"}


def _setting(env: str, help: str, default: Any = None) -> Any:
    secret = any(word in env for word in ("TOKEN", "SECRET"))
    return field(default=default, repr=not secret, metadata={"env": env, "help": help, "secret": secret})


@dataclass(frozen=True)
class Config:
    data_dir: Path = _setting("DRAFTLOOP_DATA_DIR", "where Redis, images and models live", Path("data"))
    redis_url: str | None = _setting(
        "REDIS_URL", "Redis/Valkey to use; unset starts the bundled redis-server under the data dir"
    )
    model: str | None = _setting(
        "DRAFTLOOP_MODEL", "diffusers folder or hub id; unset uses the tiny offline model (tiny-sd)"
    )
    models_file: Path | None = _setting(
        "DRAFTLOOP_MODELS",
        "model catalog (TOML): the models workers serve and the default; unset = models.toml in the data dir",
    )
    lora_dir: Path | None = _setting(
        "DRAFTLOOP_LORA_DIR", "folder of LoRA .safetensors files, each named by its file stem"
    )
    workers: int = _setting("DRAFTLOOP_WORKERS", "engine workers `up` starts (one per GPU); 0 for none", 1)
    max_batch: int = _setting("DRAFTLOOP_MAX_BATCH", "most images one pipeline call may batch", 8)
    compile_mode: str = _setting(
        "DRAFTLOOP_COMPILE",
        "torch.compile for the workers: off, default, reduce-overhead (CUDA graphs), max-autotune",
        "off",
    )
    dtype: str = _setting(
        "DRAFTLOOP_DTYPE", "weights' precision in the workers: auto (fp16 on GPU), fp16, bf16, fp32", "auto"
    )
    cpu_offload: str = _setting(
        "DRAFTLOOP_CPU_OFFLOAD",
        "off, or model: keep each model on the CPU and move it to the GPU per call",
        "off",
    )
    visibility_timeout: float = _setting(
        "DRAFTLOOP_VISIBILITY_TIMEOUT",
        "seconds without a heartbeat (sent every 2 s) before a worker's unfinished jobs go to another",
        10.0,
    )
    sdxl_vae: str | None = _setting(
        "DRAFTLOOP_SDXL_VAE",
        "fp16-safe VAE for SDXL models (e.g. madebyollin/sdxl-vae-fp16-fix): decodes without fp32 upcast",
    )
    allow_download: bool = _setting(
        "DRAFTLOOP_ALLOW_DOWNLOAD", "let workers download hub models missing from the local cache", False
    )
    weights_dir: Path | None = _setting(
        "DRAFTLOOP_WEIGHTS",
        "folder of the upscaler and face-restorer weights; unset = ~/.cache/draftloop/weights",
    )
    web_host: str = _setting("DRAFTLOOP_WEB_HOST", "web playground bind address", "127.0.0.1")
    web_port: int = _setting("DRAFTLOOP_WEB_PORT", "web playground port", DEFAULT_WEB_PORT)
    web_token: str | None = _setting(
        "DRAFTLOOP_WEB_TOKEN", "token the playground requires; mandatory when binding beyond loopback"
    )
    public_url: str | None = _setting(
        "DRAFTLOOP_PUBLIC_URL",
        "the web app's address as people reach it (https://...): links to images over a chat upload limit",
    )
    link_secret: str | None = _setting(
        "DRAFTLOOP_LINK_SECRET", "secret that signs those links (required with DRAFTLOOP_PUBLIC_URL)"
    )
    retention_days: float = _setting(
        "DRAFTLOOP_RETENTION_DAYS", "days a finished campaign is kept in Redis", 30.0
    )
    quota_images_per_day: int | None = _setting(
        "DRAFTLOOP_QUOTA_IMAGES_PER_DAY", "images one user may ask for per UTC day; unset = no quota"
    )
    discord_token: str | None = _setting("DISCORD_TOKEN", "Discord bot token: starts the Discord adapter")
    discord_api_url: str | None = _setting("DISCORD_API_URL", "another Discord API base (a proxy)")
    discord_approver_role: str = _setting(
        "DISCORD_APPROVER_ROLE", "Discord role (name or id) that may close votes", "approver"
    )
    discord_guild_ids: str | None = _setting(
        "DISCORD_GUILD_IDS", "comma-separated guild ids: register commands per guild (immediate)"
    )
    slack_bot_token: str | None = _setting("SLACK_BOT_TOKEN", "Slack bot token: starts the Slack adapter")
    slack_app_token: str | None = _setting(
        "SLACK_APP_TOKEN", "Slack app-level token (xapp-): Socket Mode, no public URL nor signing secret"
    )
    slack_signing_secret: str | None = _setting(
        "SLACK_SIGNING_SECRET", "Slack signing secret: serve HTTP requests (without SLACK_APP_TOKEN)"
    )
    slack_api_url: str | None = _setting("SLACK_API_URL", "another Slack Web API base (a proxy)")
    slack_approvers: str | None = _setting(
        "SLACK_APPROVERS", "comma-separated Slack user ids that may close votes"
    )
    slack_host: str = _setting("SLACK_HOST", "address the Slack events endpoint binds", "127.0.0.1")
    slack_port: int = _setting("SLACK_PORT", "port of the Slack events endpoint", 3000)
    slack_path: str = _setting(
        "SLACK_PATH", "path for Slack events, commands and interactivity", "/slack/events"
    )
    log_level: str = _setting("DRAFTLOOP_LOG_LEVEL", "logging level", "INFO")

    @property
    def tiny(self) -> bool:
        return not self.model

    def default_model(self) -> str | None:
        """DRAFTLOOP_MODEL, else the model catalog's default; None: the tiny offline model."""
        from engine.model_catalog_file import catalog_default

        return self.model or catalog_default(self.models_file, self.data_dir)

    def redacted(self) -> dict[str, object]:
        """For logs: secrets are never printed."""
        out: dict[str, object] = {}
        for f in fields(self):
            value = getattr(self, f.name)
            out[f.name] = ("set" if value else "unset") if f.metadata["secret"] else value
        if self.redis_url and "@" in self.redis_url:
            out["redis_url"] = "…@" + self.redis_url.rsplit("@", 1)[1]
        return out


_TRUE = ("1", "true", "yes", "on")
_FALSE = ("0", "false", "no", "off")


def _convert(raw: object, annotation: str) -> object:
    if raw is None or raw == "":
        return None
    text = str(raw)
    if "Path" in annotation:
        return Path(text)
    if annotation.startswith("int"):
        return int(text)
    if annotation.startswith("float"):
        return float(text)
    if annotation.startswith("bool"):
        if text.lower() not in _TRUE + _FALSE:
            raise ValueError(text)
        return text.lower() in _TRUE
    return text


_KINDS = {"int": "a whole number", "float": "a number", "bool": "one of 1, 0, true, false, yes, no, on, off"}


class ConfigError(ValueError):
    pass


def _environment(environ: dict[str, str] | None) -> dict[str, str]:
    """The environment, with deprecated names moved to their new ones (a warning for each)."""
    env = dict(os.environ if environ is None else environ)
    for old, new in DEPRECATED_ALIASES.items():
        if old in env:
            if new in env:
                log.warning("%s is deprecated and ignored: %s is set", old, new)
            else:
                log.warning("%s is deprecated: use %s", old, new)
                env[new] = env[old]
            del env[old]
    return env


def load_config(
    environ: dict[str, str] | None = None, toml_path: Path | None = None, *, role: str = "bot"
) -> Config:
    """Environment wins over the TOML file (``DRAFTLOOP_CONFIG`` or ``toml_path``), which wins over defaults.

    TOML keys are the field names (``web_port = 9000``). ``role`` "worker" skips the checks of the chat
    and web settings, which a worker neither uses nor receives (its environment lacks their secrets).
    """
    env = _environment(environ)
    file_values: dict[str, Any] = {}
    path = toml_path or (Path(env["DRAFTLOOP_CONFIG"]) if env.get("DRAFTLOOP_CONFIG") else None)
    if path is not None:
        try:
            file_values = tomllib.loads(path.read_text())
        except (OSError, tomllib.TOMLDecodeError) as exc:
            raise ConfigError(f"cannot read config file {path}: {exc}") from exc
    values: dict[str, Any] = {}
    known = {f.name for f in fields(Config)}
    unknown = set(file_values) - known
    if unknown:
        raise ConfigError(f"unknown settings in {path}: {', '.join(sorted(unknown))}")
    for f in fields(Config):
        env_name = f.metadata["env"]
        raw = env.get(env_name, file_values.get(f.name))
        if raw is None:
            continue
        annotation = str(f.type)
        try:
            value = _convert(raw, annotation)
        except ValueError as exc:
            kind = _KINDS[annotation.split()[0].split("|")[0]]
            raise ConfigError(f"{env_name} must be {kind}, got {raw!r}") from exc
        if value is None and "None" not in annotation:
            raise ConfigError(f"{env_name} must not be empty (unset it for the default, {f.default})")
        values[f.name] = value
    config = Config(**values)
    check_engine_settings(config)
    if role == "bot":
        check_bot_settings(config)
    return config


def _one_of(env_name: str, value: str, choices: tuple[str, ...]) -> None:
    if value not in choices:
        raise ConfigError(f"{env_name} must be {', '.join(choices[:-1])} or {choices[-1]}, got {value!r}")


def check_engine_settings(config: Config) -> None:
    """The settings every process shares and the workers use."""
    _one_of("DRAFTLOOP_COMPILE", config.compile_mode, COMPILE_MODES)
    _one_of("DRAFTLOOP_DTYPE", config.dtype, DTYPES)
    _one_of("DRAFTLOOP_CPU_OFFLOAD", config.cpu_offload, CPU_OFFLOAD_MODES)
    if config.workers < 0:
        raise ConfigError(f"DRAFTLOOP_WORKERS must be 0 or more, got {config.workers}")
    if config.max_batch < 1:
        raise ConfigError(f"DRAFTLOOP_MAX_BATCH must be 1 or more, got {config.max_batch}")
    if not config.visibility_timeout > 0:
        raise ConfigError(
            "DRAFTLOOP_VISIBILITY_TIMEOUT must be a number of seconds above 0, "
            f"got {config.visibility_timeout}"
        )
    if config.log_level.upper() not in logging.getLevelNamesMapping():
        raise ConfigError(
            f"DRAFTLOOP_LOG_LEVEL must be DEBUG, INFO, WARNING, ERROR or CRITICAL, got {config.log_level!r}"
        )
    from engine.model_catalog_file import CatalogError, catalog_default

    try:
        catalog_default(config.models_file, config.data_dir)
    except CatalogError as exc:
        raise ConfigError(f"DRAFTLOOP_MODELS: {exc}") from exc


def check_bot_settings(config: Config) -> None:
    """The chat adapters' and web playground's settings."""
    for env_name, port in (("DRAFTLOOP_WEB_PORT", config.web_port), ("SLACK_PORT", config.slack_port)):
        if not 0 <= port <= 65535:
            raise ConfigError(f"{env_name} must be a port number (0 to 65535), got {port}")
    if config.slack_app_token and not config.slack_app_token.startswith("xapp-"):
        raise ConfigError("SLACK_APP_TOKEN must be an app-level token (xapp-…), made with connections:write")
    if config.slack_bot_token and not config.slack_signing_secret and not config.slack_app_token:
        raise ConfigError(
            "SLACK_BOT_TOKEN is set but SLACK_SIGNING_SECRET is not: Slack requests can't be verified. "
            "Set SLACK_APP_TOKEN for Socket Mode, or SLACK_SIGNING_SECRET to serve HTTP"
        )
    if config.discord_guild_ids and not all(
        part.strip().isdigit() for part in config.discord_guild_ids.split(",") if part.strip()
    ):
        raise ConfigError(
            f"DISCORD_GUILD_IDS must be comma-separated numbers, got {config.discord_guild_ids!r}"
        )
    if config.public_url and not config.link_secret:
        raise ConfigError(
            "DRAFTLOOP_PUBLIC_URL is set but DRAFTLOOP_LINK_SECRET is not: links can't be signed"
        )
    if config.web_host not in _LOOPBACK_HOSTS and not config.web_token:
        raise ConfigError(
            f"DRAFTLOOP_WEB_HOST={config.web_host} binds beyond loopback: set DRAFTLOOP_WEB_TOKEN too"
        )


def settings_help() -> str:
    lines = [
        "configuration: environment variables, or `name = value` in the TOML file DRAFTLOOP_CONFIG names"
    ]
    for f in fields(Config):
        default = f.default if f.default is not None else "unset"
        name = f"{f.metadata['env']} / {f.name}"
        lines.append(f"  {name:<52} {f.metadata['help']} (default: {default})")
    lines.append(f"  {'DRAFTLOOP_CONFIG':<32} path of an optional TOML file with these settings")
    return "\n".join(lines)
