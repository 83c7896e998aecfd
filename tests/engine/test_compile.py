"""Opt-in torch.compile: compiled drafts match eager ones, and batches are padded to a bucket and trimmed.

On a CPU, inductor compiles the tiny models' first call in minutes (about 105 s on two cores), so the
slow tests compile with the "aot_eager" backend: the same dynamo capture and AOT graphs, without code
generation. Inductor is for CUDA (``draftloop bench --compile reduce-overhead`` on a GPU).
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest
from PIL import Image

from bot.config import load_config
from bot.worker_cli import build_parser, worker_main, worker_settings
from engine import tiny_catalog
from engine.api import Job, JobKind
from engine.compile import bucket_size, check_mode, compile_targets, is_compiled, padded_size
from engine.pipeline_runner import DiffusersRunner
from engine.registry import ModelRegistry
from engine.runner import JobOutput
from engine.tiny import TinyPaths
from engine.worker_main import WorkerSettings, run_worker
from tests.support.blobs import Store


def test_buckets_and_modes() -> None:
    assert [bucket_size(n) for n in (1, 2, 3, 4, 5, 8, 9, 17)] == [1, 2, 4, 4, 8, 8, 16, 24]
    assert padded_size(3, "off") == 3 and padded_size(3, "reduce-overhead") == 4
    assert check_mode("max-autotune") == "max-autotune"
    with pytest.raises(ValueError):
        check_mode("fast")


def test_registry_and_worker_settings(tiny_models: TinyPaths, monkeypatch: pytest.MonkeyPatch) -> None:
    assert tiny_catalog.tiny_registry(tiny_models, device="cpu").compile_mode == "off"
    with pytest.raises(ValueError):
        tiny_catalog.tiny_registry(tiny_models, device="cpu", compile_mode="fast")

    def settings(argv: list[str], env: dict[str, str]) -> WorkerSettings:
        return worker_settings(load_config(env, role="worker"), build_parser().parse_args(argv))

    assert settings([], {}).compile_mode == "off"
    assert settings(["--compile", "reduce-overhead"], {}).compile_mode == "reduce-overhead"
    assert settings([], {"DRAFTLOOP_COMPILE": "default"}).compile_mode == "default"
    assert settings(["--compile", "off"], {"DRAFTLOOP_COMPILE": "default"}).compile_mode == "off"
    never_built = lambda settings: None  # noqa: E731
    assert worker_main(["--redis", "redis://unused"], never_built, {"DRAFTLOOP_COMPILE": "fast"}) == 2  # type: ignore[arg-type]
    assert run_worker(WorkerSettings("redis://unused", compile_mode="fast"), never_built) == 2  # type: ignore[arg-type]


def pixels(out: JobOutput, i: int) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(out.images[i].png)).convert("RGB")).astype(np.int16)


def draft(job_id: str, seeds: list[int], **kw: Any) -> Job:
    return Job(
        job_id=job_id, campaign_id=f"c-{job_id}", kind=JobKind.DRAFT, model="tiny-sd", seeds=seeds, **kw
    )


def assert_close(got: list[JobOutput], want: list[JobOutput]) -> None:
    assert [o.job_id for o in got] == [o.job_id for o in want]
    for a, b in zip(got, want, strict=True):
        assert a.error is None and b.error is None, (a.error, b.error)
        assert [im.seed for im in a.images] == [im.seed for im in b.images]
        for i in range(len(a.images)):
            assert np.abs(pixels(a, i) - pixels(b, i)).max() <= 2  # out of 255


@pytest.fixture(scope="module")
def compiled(tiny_models: TinyPaths) -> Iterator[DiffusersRunner]:
    import torch._dynamo

    registry = tiny_catalog.tiny_registry(
        tiny_models, device="cpu", compile_mode="default", compile_backend="aot_eager"
    )
    yield DiffusersRunner(registry)
    torch._dynamo.reset()


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_compiled_drafts_equal_eager(compiled: DiffusersRunner, tiny_registry: ModelRegistry) -> None:
    jobs = [
        draft("a", [1], prompt="a red fox"),
        draft("b", [7], prompt="a lighthouse at dusk", negative="blurry"),
        draft("c", [42], prompt="isometric city"),
    ]
    store = Store()
    assert_close(compiled.run(jobs, store.ctx()), DiffusersRunner(tiny_registry).run(jobs, store.ctx()))

    registry = compiled.registry
    txt2img = registry.pipeline("tiny-sd", "txt2img", tiny_vae=True)
    inpaint = registry.pipeline("tiny-sd", "inpaint")
    assert inpaint.unet is txt2img.unet  # one compiled UNet shared by the from_pipe pipelines
    for pipe in (txt2img, inpaint):
        assert set(compile_targets(pipe)) == {"unet", "vae.decoder"}
        assert all(is_compiled(module) for module in compile_targets(pipe).values())
    assert not is_compiled(txt2img.text_encoder)


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_padding_to_a_bucket_returns_the_requested_images(
    compiled: DiffusersRunner, tiny_registry: ModelRegistry
) -> None:
    store = Store()
    rng = np.random.default_rng(0)
    init = store.put_image(Image.fromarray(rng.integers(0, 256, (48, 48, 3), dtype=np.uint8)))
    jobs = [  # img2img drafts: the per-image init images are padded too
        draft("a", [1, 2], prompt="a red fox", init_image=init),
        draft("b", [7], prompt="a lighthouse", init_image=init),
        draft("c", [42, 43], prompt="isometric city", init_image=init),
    ]
    batch_sizes: list[int] = []
    encoder = compiled.registry.pipeline("tiny-sd", "img2img", tiny_vae=True).text_encoder
    hook = encoder.register_forward_pre_hook(lambda _m, args: batch_sizes.append(args[0].shape[0]))
    try:
        got = compiled.run(jobs, store.ctx())
    finally:
        hook.remove()
    assert set(batch_sizes) == {8}  # 5 images padded to the bucket of 8 (prompts and negatives)
    assert [len(o.images) for o in got] == [2, 1, 2]
    assert_close(got, DiffusersRunner(tiny_registry).run(jobs, store.ctx()))


def test_compile_caches_live_under_the_data_dir(tmp_path: Any) -> None:
    from engine.compile import cache_env, use_persistent_caches

    env = {"TRITON_CACHE_DIR": "/elsewhere"}
    use_persistent_caches(tmp_path, env)
    assert env["TORCHINDUCTOR_CACHE_DIR"] == str(tmp_path / "compile-cache" / "inductor")
    assert env["TORCHINDUCTOR_FX_GRAPH_CACHE"] == "1"
    assert env["TRITON_CACHE_DIR"] == "/elsewhere"  # an operator's own setting wins
    assert set(cache_env(tmp_path)) <= set(env)


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_warm_up_compiles_the_draft_buckets_before_any_job(tiny_models: TinyPaths) -> None:
    import torch._dynamo

    registry = tiny_catalog.tiny_registry(
        tiny_models, device="cpu", compile_mode="default", compile_backend="aot_eager"
    )
    runner = DiffusersRunner(registry, default_model="tiny-sd", max_batch=2)
    torch._dynamo.reset()  # graphs other tests compiled for equal shapes would be reused
    try:
        runner.warm_up()
        load_s, compile_s = runner.overhead_seconds()
        assert load_s > 0 and compile_s > 0
        pipe = registry.pipeline("tiny-sd", "txt2img", tiny_vae=True)
        assert all(is_compiled(module) for module in compile_targets(pipe).values())
        # a user's batch of a warmed bucket size compiles nothing more
        torch._dynamo.utils.counters.clear()
        (out,) = runner.run([draft("u", [5, 6], prompt="a red fox")], Store().ctx())
        assert out.error is None and len(out.images) == 2
        assert torch._dynamo.utils.counters["stats"]["unique_graphs"] == 0
        assert runner.overhead_seconds()[1] == compile_s  # a job's run is never counted as compiling
        runner.run([draft("v", [1, 2, 3], prompt="a red fox")], Store().ctx())  # bucket 4: not warmed
        assert torch._dynamo.utils.counters["stats"]["unique_graphs"] > 0  # so the check above can fail
    finally:
        torch._dynamo.reset()
