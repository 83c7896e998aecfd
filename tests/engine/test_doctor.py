"""`draftloop doctor` and `draftloop models list`: what a worker can serve here, what is missing, and the
command that fixes each missing piece; both look where the workers look (data dir, catalog, LoRA folder)."""

from __future__ import annotations

from pathlib import Path

import huggingface_hub.constants
import pytest

from bot.cli import main
from engine.doctor import ModelPlaces, diagnose, pull_name_for, render
from engine.tiny import TinyPaths
from tests.support.team_models import write_team_models


@pytest.fixture(autouse=True)
def empty_hub_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cache = tmp_path / "hub-cache"
    cache.mkdir()
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_CACHE", str(cache))


def test_the_pull_name_of_a_base_model_and_of_its_extras() -> None:
    assert pull_name_for("stable-diffusion-v1-5/stable-diffusion-v1-5") == "sd15"
    assert pull_name_for("lllyasviel/control_v11p_sd15_canny") == "sd15"
    assert pull_name_for("madebyollin/taesdxl") in ("sdxl", "sdxl-turbo")
    assert pull_name_for("someone/else") is None


def test_the_doctor_names_what_is_present_and_what_is_missing(tiny_models: TinyPaths, tmp_path: Path) -> None:
    team = write_team_models(tiny_models, tmp_path / "team")
    with team.catalog.open("a") as fh:
        fh.write(
            '\n[models.sd15]\n\n[models.legacy]\ncheckpoint = "checkpoints/legacy.ckpt"\nfamily = "sd15"\n'
        )
    places = ModelPlaces(data_dir=tmp_path / "data", models_file=team.catalog, lora_dir=team.lora_dir)
    report = diagnose(places)
    by_name = {model.name: model for model in report.models}
    assert report.default_model == "studio" and report.ok
    assert by_name["studio"].servable and by_name["house"].servable
    assert not by_name["sd15"].servable and not by_name["legacy"].servable
    text = render(report)
    assert "sd15 (sd15): CANNOT serve" in text
    assert (
        "MISSING base model: stable-diffusion-v1-5/stable-diffusion-v1-5  -> draftloop models pull sd15"
        in text
    )
    assert (
        "MISSING canny ControlNet: lllyasviel/control_v11p_sd15_canny  -> draftloop models pull sd15" in text
    )
    assert "MISSING checkpoint: " in text and "legacy.ckpt  -> no such file" in text
    assert (
        "component configs: stable-diffusion-v1-5/stable-diffusion-v1-5  -> run `draftloop models pull sd15`"
        in text
    )
    assert "ok      component configs: " + str(tiny_models.sd) in text
    assert "xl-grain         sdxl  (fits no model here)" in text
    assert "ink              tiny-sd; triggers: inkwash, brush strokes, monochrome, paper" in text
    assert "-> draftloop models pull upscalers" in text
    assert text.startswith("device: cpu, float32, free memory ")
    assert text.endswith("ready: the default model can be served")


def test_the_doctor_command_fails_when_the_default_model_is_missing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    catalog = tmp_path / "models.toml"
    catalog.write_text('default = "sdxl"\n[models.sdxl]\n')
    monkeypatch.setenv("DRAFTLOOP_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("DRAFTLOOP_MODELS", str(catalog))
    monkeypatch.setenv("DRAFTLOOP_LORA_DIR", str(tmp_path / "no-loras"))
    monkeypatch.delenv("DRAFTLOOP_MODEL", raising=False)
    assert main(["doctor"]) == 1
    out = capsys.readouterr().out
    assert "sdxl (sdxl): CANNOT serve" in out and "-> draftloop models pull sdxl" in out
    assert f"problem: DRAFTLOOP_LORA_DIR {tmp_path / 'no-loras'} is not a folder" in out
    assert "NOT READY" in out


def test_models_list_honours_the_data_dir_and_shows_the_catalog_and_loras(
    tiny_models: TinyPaths,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    team = write_team_models(tiny_models, data_dir)  # models.toml in the data dir: found without a setting
    monkeypatch.setenv("DRAFTLOOP_DATA_DIR", str(data_dir))
    monkeypatch.setenv("DRAFTLOOP_LORA_DIR", str(team.lora_dir))
    monkeypatch.delenv("DRAFTLOOP_MODELS", raising=False)
    assert main(["models", "list"]) == 0
    out = capsys.readouterr().out
    assert f"catalog {team.catalog} (default: studio):" in out
    assert "house          checkpoint family tiny-sd" in out
    assert f"tiny-sd        family tiny-sd     {data_dir / 'models'}  [not built" in out
    assert "glow             any family; triggers: soft glow, halo" in out
