"""Drafts carry an aesthetic score: the CLIP image embedding of the tiny model's image encoder through a
linear head, on a 1-10 scale; refined images carry none."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from engine.api import Job, JobKind
from engine.pipeline_runner import DiffusersRunner
from engine.registry import ModelRegistry
from engine.stages.draft import AestheticScorer
from engine.tiny import TinyPaths
from tests.support.blobs import Store


@pytest.fixture(scope="module")
def runner(tiny_registry: ModelRegistry) -> DiffusersRunner:
    return DiffusersRunner(tiny_registry, max_faces=1)


def test_drafts_are_scored_alike_alone_and_batched_and_refines_are_not(runner: DiffusersRunner) -> None:
    store = Store()
    drafts = [
        Job(job_id="a", campaign_id="c1", kind=JobKind.DRAFT, prompt="a red fox", seeds=[1, 2]),
        Job(job_id="b", campaign_id="c2", kind=JobKind.DRAFT, prompt="an owl", seeds=[3]),
    ]
    batched = runner.run(drafts, store.ctx())
    scores = [img.score for out in batched for img in out.images]
    assert all(s is not None and 1.0 <= s <= 10.0 for s in scores), scores
    (alone,) = runner.run([drafts[1]], store.ctx())
    assert alone.images[0].score == pytest.approx(scores[2], abs=0.02)
    key = store.put(batched[0].images[0].png)
    refine = Job(
        job_id="r", campaign_id="c1", kind=JobKind.REFINE, prompt="a red fox", seeds=[1], init_image=key
    )
    (refined,) = runner.run([refine], store.ctx())
    assert refined.error is None and [img.score for img in refined.images] == [None]


def test_the_score_follows_the_image_and_a_trained_head_is_used_when_present(tiny_models: TinyPaths) -> None:
    folder = tiny_models.ip_adapter / "models" / "image_encoder"
    scorer = AestheticScorer.load(folder)
    rng = np.random.default_rng(0)
    images = [Image.fromarray(rng.integers(0, 256, (40, 64, 3), dtype=np.uint8)) for _ in range(3)]
    first = scorer.scores(images)
    assert first == scorer.scores(images) and len(set(first)) == 3
    assert scorer.scores([images[1]]) == pytest.approx([first[1]], abs=0.02)
    import torch
    from safetensors.torch import save_file

    dim = int(scorer.encoder.config.projection_dim)
    save_file(
        {"weight": torch.zeros(dim), "bias": torch.tensor([0.0])}, str(folder / "aesthetic_head.safetensors")
    )
    try:
        assert AestheticScorer.load(folder).scores(images) == [5.5, 5.5, 5.5]  # 1 + 9 * sigmoid(0)
    finally:
        (folder / "aesthetic_head.safetensors").unlink()
