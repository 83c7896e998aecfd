"""A team's first day with its own models: `draftloop up` with a catalog of two models (a diffusers folder
and a single-file checkpoint) and a LoRA folder serves drafts with either model and any fitting LoRA,
refuses what doesn't fit before queueing, and lists it all in `/help models` and `models list`."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from engine.tiny import build_tiny_models
from tests.stack.upstack import UpProcess, free_port
from tests.support.team_models import TeamModels, write_team_models


def _stage(up: UpProcess, thread_id: str) -> str | None:
    for channel in up.get("/api/channels")["channels"]:
        for thread in channel["threads"]:
            if thread["id"] == thread_id:
                return thread.get("stage")
    return None


def _draft(up: UpProcess, text: str) -> str:
    """Send a /draft, wait for its grid; the thread's id."""
    sent = up.post("/api/send", {"user": "ana", "channel_id": "general", "text": text})
    thread_id = sent["opened_thread"]
    assert thread_id, sent
    up.wait_for(lambda: _stage(up, thread_id) == "voting", f"the drafts of {text!r}")
    msgs = up.get(f"/api/messages?channel_id=general&thread_id={thread_id}&user=ana")["messages"]
    assert [m for m in msgs if m.get("images")], msgs
    return str(thread_id)


def _say(up: UpProcess, text: str, thread_id: str | None = None) -> Any:
    body = {"user": "ana", "channel_id": "general", "text": text}
    if thread_id is not None:
        body["thread_id"] = thread_id
    return up.post("/api/send", body)


def _env(team: TeamModels) -> dict[str, str]:
    return {"DRAFTLOOP_MODELS": str(team.catalog), "DRAFTLOOP_LORA_DIR": str(team.lora_dir)}


@pytest.mark.slow
def test_a_catalog_and_a_lora_folder_serve_a_team(tmp_path: Path) -> None:
    tiny = build_tiny_models(tmp_path / "tiny")
    team = write_team_models(tiny, tmp_path / "team")
    up = UpProcess(tmp_path / "data", free_port(), _env(team))
    try:
        up.wait_ready()
        _draft(up, "/draft a red fox --n 1 --lora ink:0.8")  # the catalog's default model, studio
        _draft(up, "/draft a red fox --n 1 --model house --lora glow:0.6")
        wrong = _say(up, "/draft a fox --model nonesuch")
        assert wrong["opened_thread"] is None
        assert "no worker knows 'nonesuch'" in wrong["replies"][0]
        assert "house" in wrong["replies"][0] and "studio" in wrong["replies"][0]
        grain = _say(up, "/draft a fox --model house --lora xl-grain")
        assert grain["opened_thread"] is None
        assert "'xl-grain' is for sdxl models" in grain["replies"][0]
        assert "glow" in grain["replies"][0] and "ink" in grain["replies"][0]
        listed = _say(up, "/help models")["replies"][0]
        for word in ("studio", "house", "tiny-sd", "ink", "inkwash", "glow", "soft glow", "xl-grain"):
            assert word in listed, (word, listed)
        assert "(default)" in listed
    finally:
        assert up.stop() == 0, up.output()
    assert "Traceback" not in up.output()

    env = {**os.environ, "DRAFTLOOP_DATA_DIR": str(tmp_path / "data"), **_env(team)}
    listing = subprocess.run(
        [sys.executable, "-m", "bot.cli", "models", "list"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert listing.returncode == 0, listing.stderr
    for word in ("house", "checkpoint", "studio", "ink", "inkwash", "xl-grain", str(tmp_path / "data")):
        assert word in listing.stdout, (word, listing.stdout)


OPS = Path(__file__).resolve().parents[2] / "ops"


def test_compose_pulls_the_default_model_before_the_worker_starts() -> None:
    yaml = pytest.importorskip("yaml")
    services = yaml.safe_load((OPS / "compose.yaml").read_text())["services"]
    pull, worker = services["pull"], services["worker"]
    assert worker["depends_on"]["pull"] == {"condition": "service_completed_successfully"}
    assert (
        "draftloop models pull" in pull["command"][0]
        and "sdxl-turbo" in pull["environment"]["DRAFTLOOP_PULL"]
    )
    # the pull writes where the worker reads: the same volume, hub cache and weights folder
    assert "models:/models" in pull["volumes"] and "models:/models" in worker["volumes"]
    for key in ("HF_HOME", "DRAFTLOOP_WEIGHTS", "DRAFTLOOP_MODELS", "DRAFTLOOP_LORA_DIR"):
        assert pull["environment"][key] == worker["environment"][key], key
    assert worker["environment"]["DRAFTLOOP_MODEL"] == "${DRAFTLOOP_MODEL-sdxl-turbo}"  # a name pull knows


def test_the_example_catalog_is_a_valid_catalog() -> None:
    from engine.model_catalog_file import load_catalog

    catalog = load_catalog(OPS / "models.example.toml")
    assert catalog.default == "house" and catalog.models["house"].single_file
    assert catalog.models["product"].family == "sdxl"
