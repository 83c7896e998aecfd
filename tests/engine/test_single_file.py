"""Single-file checkpoints in the original (LDM) layout, loaded offline with the component configs of a
local diffusers folder, served like any other model."""

from __future__ import annotations

import io
import re
from pathlib import Path

import pytest
import torch
from PIL import Image
from safetensors import safe_open

from engine.api import Job, JobKind
from engine.catalog import ModelSpec
from engine.model_catalog_file import load_catalog
from engine.pipeline_runner import DiffusersRunner
from engine.registry import ModelRegistry
from engine.runner import BadInput
from engine.tiny import TinyPaths
from engine.tiny_catalog import tiny_specs
from tests.support.blobs import Store
from tests.support.ldm_checkpoint import write_single_file
from tests.support.team_models import write_team_models


def _pixels(png: bytes) -> bytes:
    return Image.open(io.BytesIO(png)).convert("RGB").tobytes()


def test_the_checkpoint_is_in_the_original_layout(tiny_models: TinyPaths, tmp_path: Path) -> None:
    checkpoint = write_single_file(tiny_models.sd, tmp_path / "one.safetensors")
    with safe_open(str(checkpoint), "pt") as fh:
        keys = set(fh.keys())
    prefixes = {key.split(".")[0] for key in keys}
    assert prefixes == {"model", "first_stage_model", "cond_stage_model"}
    assert "model.diffusion_model.input_blocks.0.0.weight" in keys
    assert "model.diffusion_model.middle_block.1.proj_in.weight" in keys
    assert "first_stage_model.encoder.mid.attn_1.q.weight" in keys
    assert "cond_stage_model.transformer.text_model.embeddings.position_embedding.weight" in keys
    assert not any(".down_blocks." in key or ".resnets." in key for key in keys)


def test_a_single_file_model_has_the_weights_of_its_folder_and_serves_drafts(
    tiny_models: TinyPaths, tmp_path: Path
) -> None:
    team = write_team_models(tiny_models, tmp_path)
    catalog = load_catalog(team.catalog)
    assert catalog.models["house"].single_file
    models, post, _ = tiny_specs(tiny_models)
    plain = ModelSpec(str(tiny_models.sd), "tiny-sd")  # the folder, with the same (full) decoder
    registry = ModelRegistry({**models, **catalog.models, "plain": plain}, post=post, device="cpu")
    house = registry.pipeline("house", "txt2img")
    folder = registry.pipeline("plain", "txt2img")
    for part in ("unet", "vae", "text_encoder"):
        ours, theirs = getattr(house, part).state_dict(), getattr(folder, part).state_dict()
        assert ours.keys() == theirs.keys()
        assert all(torch.equal(ours[key], theirs[key]) for key in theirs), part
    runner = DiffusersRunner(registry)
    job = Job(job_id="h", campaign_id="c", kind=JobKind.DRAFT, model="house", prompt="a fox", seeds=[4])
    (from_file,) = runner.run([job], Store().ctx())
    (from_folder,) = runner.run([job.model_copy(update={"model": "plain"})], Store().ctx())
    assert from_file.error is None and len(from_file.images) == 1
    assert _pixels(from_file.images[0].png) == _pixels(from_folder.images[0].png)


def test_a_checkpoint_without_its_component_configs_names_the_pull(tmp_path: Path) -> None:
    checkpoint = tmp_path / "mine.safetensors"
    checkpoint.write_bytes(b"not loaded")
    spec = ModelSpec(str(checkpoint), "sd15", single_file=True)
    registry = ModelRegistry({"mine": spec}, device="cpu")
    with pytest.raises(BadInput, match=re.escape("run `draftloop models pull sd15`")):
        registry.pipeline("mine", "txt2img")
    gone = ModelRegistry(
        {"gone": ModelSpec(str(tmp_path / "gone.ckpt"), "sd15", single_file=True)}, device="cpu"
    )
    with pytest.raises(BadInput, match=re.escape("gone.ckpt does not exist")):
        gone.pipeline("gone", "txt2img")
    assert "gone" in gone.available() and "gone" not in gone.families()  # not advertised: not on disk


def test_a_file_that_is_no_checkpoint_is_refused_with_the_reason(tiny_models: TinyPaths) -> None:
    spec = ModelSpec(str(tiny_models.lora), "tiny-sd", single_file=True, config=str(tiny_models.sd))
    registry = ModelRegistry({"lora-not-model": spec}, device="cpu")
    with pytest.raises(BadInput, match=re.escape("tiny-style.safetensors is not a tiny-sd checkpoint")):
        registry.pipeline("lora-not-model", "txt2img")


def test_pulled_fp16_variant_files_load_and_a_missing_draft_decoder_falls_back(
    tiny_models: TinyPaths, tmp_path: Path
) -> None:
    from diffusers import StableDiffusionPipeline

    fp16_only = tmp_path / "fp16-only"  # what `models pull` leaves: only the .fp16 weight files
    StableDiffusionPipeline.from_pretrained(str(tiny_models.sd), local_files_only=True).save_pretrained(
        fp16_only, variant="fp16"
    )
    assert not list(fp16_only.rglob("diffusion_pytorch_model.safetensors"))
    specs = {
        "pulled": ModelSpec(str(fp16_only), "tiny-sd"),
        "no-taesd": ModelSpec(str(tiny_models.sd), "tiny-sd", draft_vae=str(tmp_path / "not-pulled")),
    }
    registry = ModelRegistry(specs, device="cpu")
    runner = DiffusersRunner(registry)
    for name in specs:
        job = Job(job_id=name, campaign_id="c", kind=JobKind.DRAFT, model=name, prompt="a fox", seeds=[2])
        (out,) = runner.run([job], Store().ctx())
        assert out.error is None and len(out.images) == 1, (name, out.error)
    assert registry.spec("no-taesd").draft_vae == str(tmp_path / "not-pulled")  # the catalog is unchanged
