"""The LoRA folder: names from file stems, base family and trigger words from the training metadata, and
a LoRA for another family refused before it touches the model."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import torch
from safetensors.torch import save_file

from engine.api import Job, JobKind, LoraSpec, lora_fits
from engine.loras import family_from_metadata, read_metadata, scan_lora_dir, triggers_from_metadata
from engine.pipeline_runner import DiffusersRunner
from engine.registry import ModelRegistry
from engine.runner import BadInput
from engine.tiny import TinyPaths
from engine.tiny_catalog import tiny_specs
from engine.worker_main import WorkerSettings, advertised_by, build_runner, resolved
from tests.support.blobs import Store
from tests.support.team_models import write_lora, write_team_models


@pytest.mark.parametrize(
    ("metadata", "family"),
    [
        ({"ss_base_model_version": "sd_v1"}, "sd15"),
        ({"ss_base_model_version": "sdxl_base_v1-0"}, "sdxl"),
        ({"ss_base_model_version": "flux1"}, "flux"),
        ({"modelspec.architecture": "stable-diffusion-xl-v1-base/lora"}, "sdxl"),
        ({"modelspec.architecture": "stable-diffusion-v1/lora"}, "sd15"),
        ({"modelspec.architecture": "flux-1-dev/lora"}, "flux"),
        ({"draftloop.family": "tiny-sd", "ss_base_model_version": "sd_v1"}, "tiny-sd"),
        ({"ss_network_dim": "16"}, None),
    ],
)
def test_the_base_family_comes_from_the_metadata(metadata: dict[str, str], family: str | None) -> None:
    assert family_from_metadata(metadata) == family


def test_trigger_words_are_the_trigger_phrase_or_the_most_frequent_tags() -> None:
    assert triggers_from_metadata({"modelspec.trigger_phrase": "ohwx man, studio light"}) == (
        "ohwx man",
        "studio light",
    )
    tags = {"set_a": {"inkwash": 10, "paper": 2}, "set_b": {"brush": 7, "inkwash": 5, " ": 99}}
    assert triggers_from_metadata({"ss_tag_frequency": json.dumps(tags)}, top=2) == ("inkwash", "brush")
    assert triggers_from_metadata({"ss_tag_frequency": "not json"}) == ()


def test_a_sdxl_lora_fits_sdxl_turbo_but_not_sd15() -> None:
    assert lora_fits("sdxl", "sdxl-turbo") and lora_fits("sdxl", "sdxl")
    assert not lora_fits("sdxl", "sd15") and lora_fits(None, "flux-schnell")


def test_the_folder_lists_every_safetensors_by_stem(tmp_path: Path) -> None:
    folder = tmp_path / "loras"
    folder.mkdir()
    save_file({"w": torch.zeros(1)}, str(folder / "plain.safetensors"))
    save_file(
        {"w": torch.zeros(1)},
        str(folder / "xl.safetensors"),
        metadata={"ss_base_model_version": "sdxl_base_v1-0"},
    )
    (folder / "notes.txt").write_text("not a LoRA")
    (folder / "broken.safetensors").write_bytes(b"\xff" * 4)
    found = scan_lora_dir(folder)
    assert sorted(found) == ["broken", "plain", "xl"]
    assert found["xl"].family == "sdxl" and found["plain"].family is None
    assert read_metadata(folder / "broken.safetensors") == {}
    assert scan_lora_dir(tmp_path / "missing") == {} and scan_lora_dir(None) == {}


def test_folder_loras_serve_drafts_and_a_wrong_family_is_refused(
    tiny_models: TinyPaths, tmp_path: Path
) -> None:
    folder = tmp_path / "loras"
    write_lora(tiny_models.lora, folder / "ink.safetensors", {"draftloop.family": "tiny-sd"})
    write_lora(tiny_models.lora, folder / "grain.safetensors", {"ss_base_model_version": "sdxl_base_v1-0"})
    models, post, _ = tiny_specs(tiny_models)
    registry = ModelRegistry(models, loras=scan_lora_dir(folder), post=post, device="cpu")
    offers = {offer.name: offer.family for offer in registry.lora_offers()}
    assert offers == {"grain": "sdxl", "ink": "tiny-sd"}
    runner = DiffusersRunner(registry)
    plain = Job(job_id="p", campaign_id="c", kind=JobKind.DRAFT, model="tiny-sd", prompt="a fox", seeds=[3])
    inked = plain.model_copy(update={"job_id": "i", "loras": [LoraSpec(name="ink", weight=1.0)]})
    store = Store()
    (without,) = runner.run([plain], store.ctx())
    (with_lora,) = runner.run([inked], store.ctx())
    assert without.error is None and with_lora.error is None
    assert with_lora.images[0].png != without.images[0].png
    with pytest.raises(
        BadInput, match=re.escape("'grain' is for sdxl models and 'tiny-sd' is tiny-sd. LoRAs for it: ink")
    ):
        registry.apply_loras("tiny-sd", [LoraSpec(name="grain")])


def test_a_worker_advertises_its_catalog_families_and_folder_loras(
    tiny_models: TinyPaths, tmp_path: Path
) -> None:
    team = write_team_models(tiny_models, tmp_path / "team")
    settings = resolved(
        WorkerSettings(
            "redis://unused", data_dir=tmp_path / "data", models_file=team.catalog, lora_dir=team.lora_dir
        ),
        device=lambda: "cpu",
    )
    assert settings.model == "studio" and settings.tiny is False  # the catalog's default, no tiny models
    advertised = advertised_by(build_runner(settings))
    assert advertised["families"] == {"house": "tiny-sd", "studio": "tiny-sd"}  # sd15, sdxl...: not on disk
    loras = {offer.name: (offer.family, offer.triggers) for offer in advertised["loras"]}
    assert loras == {
        "glow": (None, ["soft glow", "halo"]),
        "ink": ("tiny-sd", ["inkwash", "brush strokes", "monochrome", "paper"]),
        "xl-grain": ("sdxl", []),
    }
