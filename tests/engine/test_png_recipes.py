"""Every PNG the engine writes carries its recipe: our own text chunks and A1111's ``parameters``."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from engine.api import Job, JobKind
from engine.images import encode_png
from engine.pipeline_runner import DiffusersRunner
from engine.recipes import PARAMETERS_KEY, Recipe, read_recipe
from engine.registry import ModelRegistry
from tests.support.blobs import Store


@pytest.fixture(scope="module")
def runner(tiny_registry: ModelRegistry) -> DiffusersRunner:
    return DiffusersRunner(tiny_registry, max_faces=1)


def text_of(png: bytes) -> dict[str, str]:
    img = Image.open(io.BytesIO(png))
    img.load()
    return dict(img.text)  # type: ignore[attr-defined]


def test_encode_png_writes_the_recipe_and_a1111_parameters() -> None:
    recipe = Recipe(
        prompt="a lighthouse at dusk, watercolor",
        negative="text, watermark",
        seed=1234,
        model="tiny-sd",
        kind="refine",
        campaign="c42",
        steps=4,
        sampler="dpm++",
        guidance=5.0,
        strength=0.4,
        parent="ab" * 32,
        width=64,
        height=48,
    )
    img = Image.new("RGB", (64, 48), (10, 20, 30))
    chunks = text_of(encode_png(img, recipe=recipe))
    ours = read_recipe(chunks)
    assert ours["prompt"] == "a lighthouse at dusk, watercolor"
    assert ours["negative"] == "text, watermark"
    assert (ours["seed"], ours["model"], ours["steps"], ours["sampler"]) == ("1234", "tiny-sd", "4", "dpm++")
    assert (ours["parent"], ours["campaign"], ours["stage"]) == ("ab" * 32, "c42", "refine")
    assert chunks[PARAMETERS_KEY].splitlines() == [
        "a lighthouse at dusk, watercolor",
        "Negative prompt: text, watermark",
        "Steps: 4, Sampler: DPM++ 2M, CFG scale: 5, Seed: 1234, Size: 64x48, Model: tiny-sd, "
        "Denoising strength: 0.4",
    ]
    assert text_of(encode_png(img)) == {}  # no recipe, no chunks


def test_recipe_survives_any_language() -> None:
    recipe = Recipe(prompt="灯台、夕暮れ — café", negative="", seed=1, model="m", kind="draft", campaign="c")
    chunks = text_of(encode_png(Image.new("RGB", (8, 8)), recipe=recipe))
    assert read_recipe(chunks)["prompt"] == "灯台、夕暮れ — café"
    assert "Negative prompt" not in chunks[PARAMETERS_KEY]


def test_stages_write_their_recipe(runner: DiffusersRunner) -> None:
    store = Store()
    draft = Job(
        job_id="d",
        campaign_id="camp",
        kind=JobKind.DRAFT,
        prompt="a red fox",
        negative="blurry",
        seeds=[7, 8],
    )
    (out,) = runner.run([draft], store.ctx())
    assert out.error is None, out.error
    first, second = (read_recipe(text_of(im.png)) for im in out.images)
    assert (first["seed"], second["seed"]) == ("7", "8")
    assert first["prompt"] == "a red fox" and first["negative"] == "blurry"
    assert (first["steps"], first["sampler"], first["campaign"], first["stage"]) == (
        "2",
        "euler",
        "camp",
        "draft",
    )
    assert "parent" not in first
    parent = store.put(out.images[0].png)
    up = Job(
        job_id="u", campaign_id="camp", kind=JobKind.UPSCALE, prompt="a red fox", init_image=parent, scale=2
    )
    (upscaled,) = runner.run([up], store.ctx())
    assert upscaled.error is None, upscaled.error
    chunks = text_of(upscaled.images[0].png)
    recipe = read_recipe(chunks)
    assert recipe["parent"] == parent and recipe["stage"] == "upscale" and "sampler" not in recipe
    assert "Seed: 0" in chunks[PARAMETERS_KEY]
    pixels = np.asarray(Image.open(io.BytesIO(upscaled.images[0].png)))
    assert pixels.shape[:2] == (96, 96)  # a 48 px draft, x2
