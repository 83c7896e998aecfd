from __future__ import annotations

import io
import struct
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from engine.api import Job, JobKind, LoraSpec, MaskSpec
from engine.images import check_finite, decode_image
from engine.pipeline_runner import DiffusersRunner
from engine.presets import resolve
from engine.registry import ModelRegistry
from engine.runner import BadInput, Cancelled, JobOutput
from engine.tiny import TinyPaths
from tests.support.blobs import Store


def noise_image(w: int, h: int, seed: int = 0) -> Image.Image:
    return Image.fromarray(np.random.default_rng(seed).integers(0, 256, (h, w, 3), dtype=np.uint8))


def pixels(out: JobOutput, i: int = 0) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(out.images[i].png)).convert("RGB")).astype(np.int16)


def job(job_id: str, kind: JobKind = JobKind.DRAFT, **kw: object) -> Job:
    return Job(job_id=job_id, campaign_id=kw.pop("campaign_id", "c1"), kind=kind, **kw)  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def runner(tiny_registry: ModelRegistry) -> DiffusersRunner:
    return DiffusersRunner(tiny_registry, max_faces=1)


@pytest.fixture()
def store() -> Store:
    return Store()


def sizes(out: JobOutput) -> list[tuple[int, int]]:
    assert out.error is None, out.error
    return [(im.width, im.height) for im in out.images]


# --- presets and images --------------------------------------------------------------------------


def test_presets_resolve_aspect_and_overrides() -> None:
    assert (
        resolve(job("a", aspect=(16, 9)), "tiny-sd").width,
        resolve(job("a", aspect=(16, 9)), "tiny-sd").height,
    ) == (48, 24)
    final = resolve(job("a", preset="final", aspect=(2, 3)), "sd15")
    assert (final.width % 64, final.height % 64) == (0, 0) and final.height > final.width
    over = resolve(job("a", steps=7, guidance=2.5, width=100, height=60), "tiny-sd")
    assert (over.steps, over.guidance, over.width, over.height) == (7, 2.5, 104, 64)
    assert resolve(job("a"), "tiny-sd").tiny_vae and not resolve(job("a", preset="final"), "tiny-sd").tiny_vae


def _png_header(width: int, height: int) -> bytes:
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    chunk = b"IHDR" + ihdr
    return (
        b"\x89PNG\r\n\x1a\n"
        + struct.pack(">I", len(ihdr))
        + chunk
        + struct.pack(">I", zlib.crc32(chunk))
        + b"\x00\x00\x00\x00IEND\xaeB`\x82"
    )


def test_decode_rejects_bad_images() -> None:
    with pytest.raises(BadInput, match="not an image"):
        decode_image(b"%PDF-1.4 definitely not a picture")
    with pytest.raises(BadInput, match="too many pixels"):
        decode_image(_png_header(10_000, 10_000))  # 100 MP claimed by a tiny file
    with pytest.raises(BadInput, match="decompression bomb"):
        decode_image(_png_header(40_000, 40_000), max_pixels=10**10)
    with pytest.raises(BadInput, match="too large"):
        decode_image(b"\x00" * 2048, max_bytes=1024)
    with pytest.raises(BadInput, match="NaN"):
        check_finite(np.array([0.0, np.nan]))
    assert decode_image(Store().blobs.get("x", b"") or _small_png()).size == (8, 8)


def _small_png() -> bytes:
    buf = io.BytesIO()
    noise_image(8, 8).save(buf, format="PNG")
    return buf.getvalue()


# --- drafts and batching -------------------------------------------------------------------------


def test_draft_counts_sizes_and_batched_equals_alone(runner: DiffusersRunner, store: Store) -> None:
    jobs = [
        job("a", campaign_id="c1", prompt="a red fox", seeds=[1, 2], aspect=(16, 9)),
        job(
            "b", campaign_id="c2", prompt="a lighthouse at dusk", negative="blurry", seeds=[7], aspect=(16, 9)
        ),
        job("c", campaign_id="c3", prompt="isometric city", seeds=[42], aspect=(16, 9)),
    ]
    assert len({runner.group_key(j) for j in jobs}) == 1
    steps: list[tuple[int, int]] = []
    batched = runner.run(jobs, store.ctx(on_step=lambda s, t: steps.append((s, t))))
    assert [o.job_id for o in batched] == ["a", "b", "c"]
    assert [sizes(o) for o in batched] == [[(48, 24)] * 2, [(48, 24)], [(48, 24)]]
    assert [im.seed for im in batched[0].images] == [1, 2]
    assert steps and steps[-1][0] == steps[-1][1] == 2
    assert batched[0].work_units == 48 * 24 * 2 * 2
    for j, out in zip(jobs, batched, strict=True):
        alone = runner.run([j], store.ctx())[0]
        for i in range(len(j.seeds)):
            assert np.abs(pixels(out, i) - pixels(alone, i)).max() <= 2
    assert np.abs(pixels(batched[0], 0) - pixels(batched[0], 1)).max() > 10  # seeds differ


def test_control_and_init_image_drafts(runner: DiffusersRunner, store: Store) -> None:
    sketch = Image.new("RGB", (64, 64), "white")
    sketch.paste(Image.new("RGB", (20, 30), "black"), (20, 10))
    key = store.put_image(sketch)
    outs = runner.run(
        [
            job("canny", control_image=key, control_kind="canny", seeds=[3]),
            job("line", control_image=key, control_kind="lineart", seeds=[3]),
            job("init", init_image=key, seeds=[3, 4], strength=0.7),
        ],
        store.ctx(),
    )
    assert [sizes(o) for o in outs] == [[(48, 48)], [(48, 48)], [(48, 48)] * 2]


def test_lora_and_style_reference_change_the_output(runner: DiffusersRunner, store: Store) -> None:
    ref = store.put_image(noise_image(40, 40, seed=5))
    plain, lora, styled = runner.run(
        [
            job("plain", seeds=[11]),
            job("lora", seeds=[11], loras=[LoraSpec(name="tiny-style", weight=1.0)]),
            job("styled", seeds=[11], style_refs=[ref], style_weight=1.0),
        ],
        store.ctx(),
    )
    assert np.abs(pixels(plain) - pixels(lora)).mean() > 1.0
    assert np.abs(pixels(plain) - pixels(styled)).mean() > 1.0
    again = runner.run([job("plain2", seeds=[11])], store.ctx())[0]  # adapters switched off again
    assert np.abs(pixels(plain) - pixels(again)).max() <= 2


# --- iterate and refine --------------------------------------------------------------------------


def test_variation_and_refine(runner: DiffusersRunner, store: Store) -> None:
    src = store.put_image(noise_image(48, 48, seed=1))
    var, ref = runner.run(
        [
            job("v", JobKind.VARIATION, init_image=src, seeds=[5, 6, 7], strength=0.6),
            job("r", JobKind.REFINE, init_image=src, seeds=[99], aspect=(1, 1)),
        ],
        store.ctx(),
    )
    assert sizes(var) == [(48, 48)] * 3
    assert sizes(ref) == [(64, 64)] and ref.images[0].seed == 99


# --- post edits ----------------------------------------------------------------------------------


def test_inpaint_box_mask_image_and_faces(runner: DiffusersRunner, store: Store) -> None:
    src = store.put_image(noise_image(60, 44, seed=2))
    small_mask = Image.new("L", (30, 22), 0)
    small_mask.paste(255, (5, 5, 20, 15))
    mask_key = store.put_image(small_mask)  # half the source size: resized to the source
    box, masked, faces, outside = runner.run(
        [
            job("box", JobKind.INPAINT, init_image=src, mask=MaskSpec(box=(10, 10, 20, 20)), seeds=[1]),
            job("mask", JobKind.INPAINT, init_image=src, mask=MaskSpec(image=mask_key), seeds=[1]),
            job("faces", JobKind.INPAINT, init_image=src, mask=MaskSpec(faces=True), seeds=[1]),
            job("out", JobKind.INPAINT, init_image=src, mask=MaskSpec(box=(500, 500, 5, 5)), seeds=[1]),
        ],
        store.ctx(),
    )
    assert sizes(box) == sizes(masked) == sizes(faces) == [(60, 44)]
    assert outside.error is not None and "outside" in outside.error
    before = np.asarray(Image.open(io.BytesIO(store.blobs[src]))).astype(np.int16)
    changed = np.abs(pixels(box) - before).mean(axis=-1)
    assert changed[12:28, 12:28].mean() > changed[36:, 44:].mean()  # the box changed more than a corner


@pytest.mark.parametrize("model", ["tiny-sd", "tiny-sdxl"])
def test_inpaint_changes_only_the_masked_area(runner: DiffusersRunner, store: Store, model: str) -> None:
    source = noise_image(60, 44, seed=8)
    src = store.put_image(source)
    out = runner.run(
        [
            job(
                "i",
                JobKind.INPAINT,
                model=model,
                init_image=src,
                mask=MaskSpec(box=(10, 8, 24, 20)),
                seeds=[1],
            )
        ],
        store.ctx(),
    )[0]
    assert sizes(out) == [(60, 44)]
    diff = np.abs(pixels(out) - np.asarray(source).astype(np.int16)).max(axis=-1)
    outside = np.ones(diff.shape, dtype=bool)
    outside[8 - 4 : 28 + 4, 10 - 4 : 34 + 4] = False  # the box (x 10..33, y 8..27) grown by 4 px
    assert diff[outside].max() <= 1
    assert diff[11:25, 13:31].mean() > 20  # inside the box the pixels are generated


def test_outpaint_zoom_and_pan(runner: DiffusersRunner, store: Store) -> None:
    src = store.put_image(noise_image(64, 64, seed=3))
    zoom, pan_left, pan_up = runner.run(
        [
            job("z", JobKind.OUTPAINT, init_image=src, zoom=1.5, seeds=[2]),
            job("l", JobKind.OUTPAINT, init_image=src, pan="left", seeds=[2]),
            job("u", JobKind.OUTPAINT, init_image=src, pan="up", seeds=[2]),
        ],
        store.ctx(),
    )
    assert sizes(zoom) == [(96, 96)]
    assert sizes(pan_left) == [(96, 64)]
    assert sizes(pan_up) == [(64, 96)]
    before = np.asarray(Image.open(io.BytesIO(store.blobs[src]))).astype(np.int16)
    kept = pixels(pan_left)[:, 32:]  # the source sits on the right of a left pan
    assert np.abs(kept[6:-6, 6:-6] - before[6:-6, 6:-6]).max() <= 1  # away from the mask edge: untouched
    assert np.abs(pixels(pan_left)[:, :26] - before[:, :26]).mean() > 20  # the new area is generated


def test_upscale_sizes_and_likeness(runner: DiffusersRunner, store: Store) -> None:
    source = noise_image(8, 6, seed=4).resize((32, 24), Image.Resampling.BICUBIC)  # smooth colour blobs
    src = store.put_image(source)
    x2, x4, bad = runner.run(
        [
            job("x2", JobKind.UPSCALE, init_image=src, scale=2),
            job("x4", JobKind.UPSCALE, init_image=src, scale=4),
            job("x3", JobKind.UPSCALE, init_image=src, scale=3),
        ],
        store.ctx(),
    )
    assert sizes(x2) == [(64, 48)] and sizes(x4) == [(128, 96)]
    assert bad.error is not None and "2 or 4" in bad.error
    before = np.asarray(source).astype(np.int16)
    for out in (x2, x4):
        big = Image.open(io.BytesIO(out.images[0].png)).convert("RGB")
        back = np.asarray(big.resize(source.size, Image.Resampling.BOX)).astype(np.int16)
        assert np.abs(back - before).mean() < 4  # the upscaled image looks like the source


@pytest.mark.slow
def test_restore_faces_and_upscale_with_faces(runner: DiffusersRunner, store: Store) -> None:
    src = store.put_image(noise_image(48, 40, seed=6))
    faces, up = runner.run(
        [
            job("f", JobKind.RESTORE_FACES, init_image=src),
            job("uf", JobKind.UPSCALE, init_image=src, scale=2, face_restore=True),
        ],
        store.ctx(),
    )
    assert sizes(faces) == [(48, 40)]
    assert sizes(up) == [(96, 80)]
    restorer = runner.registry.face_restorer(runner.max_faces)
    assert len(restorer.face_helper.restored_faces) == 1  # the GFPGAN network really ran on one face


# --- the SDXL family ----------------------------------------------------------------------------


def test_tiny_sdxl_draft_refine_inpaint_and_batching(runner: DiffusersRunner, store: Store) -> None:
    assert runner.registry.family("tiny-sdxl") == "tiny-sdxl"
    jobs = [
        job("a", model="tiny-sdxl", prompt="a red fox", seeds=[1, 2], aspect=(16, 9)),
        job("b", model="tiny-sdxl", prompt="a lighthouse", negative="blurry", seeds=[7], aspect=(16, 9)),
    ]
    assert len({runner.group_key(j) for j in jobs}) == 1
    assert runner.group_key(jobs[0]) != runner.group_key(
        job("sd", prompt="a red fox", seeds=[1], aspect=(16, 9))
    )
    batched = runner.run(jobs, store.ctx())
    assert [sizes(o) for o in batched] == [[(48, 24)] * 2, [(48, 24)]]
    for j, out in zip(jobs, batched, strict=True):
        alone = runner.run([j], store.ctx())[0]
        for i in range(len(j.seeds)):
            assert np.abs(pixels(out, i) - pixels(alone, i)).max() <= 2
    assert np.abs(pixels(batched[0], 0) - pixels(batched[0], 1)).max() > 10  # seeds differ
    src = store.put_image(noise_image(60, 44, seed=9))
    refine, inpaint = runner.run(
        [
            job("r", JobKind.REFINE, model="tiny-sdxl", init_image=src, seeds=[3, 4], aspect=(4, 3)),
            job(
                "i",
                JobKind.INPAINT,
                model="tiny-sdxl",
                init_image=src,
                mask=MaskSpec(box=(5, 5, 30, 20)),
                seeds=[5],
            ),
        ],
        store.ctx(),
    )
    assert sizes(refine) == [(64, 48)] * 2 and [im.seed for im in refine.images] == [3, 4]
    assert sizes(inpaint) == [(60, 44)]


def test_tiny_sdxl_control_and_style_reference(runner: DiffusersRunner, store: Store) -> None:
    sketch = Image.new("RGB", (64, 64), "white")
    sketch.paste(Image.new("RGB", (20, 30), "black"), (20, 10))
    key = store.put_image(sketch)
    ref = store.put_image(noise_image(40, 40, seed=5))
    plain, control, styled = runner.run(
        [
            job("plain", model="tiny-sdxl", seeds=[11]),
            job("control", model="tiny-sdxl", control_image=key, control_kind="canny", seeds=[11]),
            job("styled", model="tiny-sdxl", seeds=[11], style_refs=[ref], style_weight=1.0),
        ],
        store.ctx(),
    )
    assert sizes(plain) == sizes(control) == sizes(styled) == [(48, 48)]
    assert np.abs(pixels(plain) - pixels(styled)).mean() > 1.0  # the SDXL IP-Adapter is applied


# --- bad input, progress, cancellation -----------------------------------------------------------


def test_bad_inputs_fail_their_job_only(runner: DiffusersRunner, store: Store) -> None:
    bomb = _png_header(40_000, 40_000)
    huge = _png_header(10_000, 10_000)
    jobs = [
        job("ok", seeds=[1]),
        job("model", model="no-such-model", seeds=[1]),
        job("pdf", JobKind.VARIATION, init_image=store.put(b"%PDF-1.7 not an image"), seeds=[1]),
        job("bomb", JobKind.VARIATION, init_image=store.put(bomb), seeds=[1]),
        job("huge", JobKind.VARIATION, init_image=store.put(huge), seeds=[1]),
        job("lora", seeds=[1], loras=[LoraSpec(name="nope")]),
        job("missing", JobKind.UPSCALE, init_image="0" * 64, scale=2),
    ]
    outs = {o.job_id: o for o in runner.run(jobs, store.ctx())}
    assert sizes(outs["ok"]) == [(48, 48)]
    assert (
        outs["model"].error is not None and "Unknown model 'no-such-model'. Available:" in outs["model"].error
    )
    assert "tiny-sd" in outs["model"].error
    assert outs["pdf"].error is not None and "not an image" in outs["pdf"].error
    assert outs["bomb"].error is not None and "pixels" in outs["bomb"].error
    assert outs["huge"].error is not None and "too many pixels" in outs["huge"].error
    assert outs["lora"].error is not None and "Unknown LoRA 'nope'" in outs["lora"].error
    assert outs["missing"].error is not None and "missing" in outs["missing"].error


def test_cancel_interrupts_the_batch(runner: DiffusersRunner, store: Store) -> None:
    seen: list[int] = []
    with pytest.raises(Cancelled):
        runner.run(
            [job("a", seeds=[1])],
            store.ctx(on_step=lambda s, t: seen.append(s), is_cancelled=lambda: bool(seen)),
        )
    assert seen == [1]


def test_group_keys_split_incompatible_jobs(runner: DiffusersRunner) -> None:
    base = runner.group_key(job("a", campaign_id="x", prompt="one", seeds=[1]))
    assert runner.group_key(job("b", campaign_id="y", prompt="two", seeds=[9, 8])) == base
    assert runner.group_key(job("c", aspect=(16, 9))) != base
    assert runner.group_key(job("d", loras=[LoraSpec(name="tiny-style")])) != base
    assert runner.group_key(job("e", preset="final")) != base
    assert runner.group_key(job("f", model="nope")) != runner.group_key(job("g", model="nope"))


# --- out of memory -------------------------------------------------------------------------------


def test_out_of_memory_splits_the_batch_and_only_an_image_too_big_alone_fails(
    runner: DiffusersRunner, store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    import torch

    import engine.pipeline_runner as pipeline_runner
    from engine.oom import TOO_BIG

    jobs = [
        job("a", campaign_id="c1", prompt="a red fox", seeds=[1, 2, 3]),
        job("b", campaign_id="c2", prompt="a giant whale", seeds=[7]),
        job("c", campaign_id="c3", prompt="isometric city", seeds=[42]),
    ]
    expected = {out.job_id: out for out in runner.run(jobs, store.ctx())}
    real = pipeline_runner.run_batch
    calls: list[int] = []
    ran: list[int] = []

    def tight_memory(registry, pipe, items, *args, **kwargs):  # type: ignore[no-untyped-def]
        images = sum(len(item.seeds) for item in items)
        calls.append(images)
        if images > 2 or any("whale" in item.job.prompt for item in items):
            raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")
        ran.append(images)
        return real(registry, pipe, items, *args, **kwargs)

    monkeypatch.setattr(pipeline_runner, "run_batch", tight_memory)
    got = {out.job_id: out for out in runner.run(jobs, store.ctx())}

    assert calls[0] == 5 and max(ran) <= 2 and sum(ran) == 4  # split down to what fits, nothing dropped
    assert got["b"].error == TOO_BIG and got["b"].images == []
    for job_id in ("a", "c"):
        assert got[job_id].error is None
        assert [im.seed for im in got[job_id].images] == [im.seed for im in expected[job_id].images]
        for i in range(len(expected[job_id].images)):  # halves equal the whole batch
            assert np.abs(pixels(got[job_id], i) - pixels(expected[job_id], i)).max() <= 2
    assert got["a"].work_units == expected["a"].work_units


# --- few-step drafts -----------------------------------------------------------------------------


def test_lcm_lora_drafts_run_without_guidance_and_batch_like_alone(
    tiny_registry: ModelRegistry, tiny_models: TinyPaths, store: Store, tmp_path: Path
) -> None:
    from engine.tiny_lcm import build_tiny_lcm_lora

    lcm_file = build_tiny_lcm_lora(tiny_models.sd, tmp_path / "tiny-lcm.safetensors")
    fast = DiffusersRunner(tiny_registry, speed_loras={"tiny-sd": lcm_file})
    classic = DiffusersRunner(tiny_registry)  # no few-step LoRA here: "draft" falls back to "draft-dpm"
    draft = job("l1", prompt="a red fox", seeds=[1, 2])
    res = fast.resolved(draft)
    assert (res.scheduler, res.guidance, res.speed_lora) == ("lcm", 1.0, True)
    assert (
        classic.resolved(draft)
        == classic.resolved(job("l1", preset="draft-dpm"))
        == fast.resolved(job("l1", preset="draft-dpm"))
    )
    assert fast.group_key(draft) != fast.group_key(job("l1", preset="draft-dpm"))

    pipe = tiny_registry.pipeline("tiny-sd", "txt2img", tiny_vae=True)
    unet_batches: list[int] = []
    hook = pipe.unet.register_forward_pre_hook(
        lambda module, args: unet_batches.append(int(args[0].shape[0]))
    )
    try:
        jobs = [draft, job("l2", campaign_id="c2", prompt="a lighthouse", seeds=[7])]
        batched = fast.run(jobs, store.ctx())
    finally:
        hook.remove()
    assert type(pipe.scheduler).__name__ == "LCMScheduler"
    assert unet_batches and set(unet_batches) == {3}  # three images, no doubled classifier-free batch
    assert [sizes(o) for o in batched] == [[(48, 48)] * 2, [(48, 48)]]
    for j, out in zip(jobs, batched, strict=True):
        alone = fast.run([j], store.ctx())[0]
        for i in range(len(j.seeds)):
            assert np.abs(pixels(out, i) - pixels(alone, i)).max() <= 2
    dpm = fast.run([job("l1", prompt="a red fox", seeds=[1, 2], preset="draft-dpm")], store.ctx())[0]
    assert np.abs(pixels(batched[0]) - pixels(dpm)).max() > 10  # the few-step path is really another one
    plain = classic.run([job("l3", prompt="a red fox", seeds=[1], preset="draft-dpm")], store.ctx())[0]
    assert np.abs(pixels(plain) - pixels(dpm)).max() <= 2  # the LoRA is off again for the classic draft


def test_an_fp16_safe_vae_replaces_the_sdxl_vae_only(
    tiny_models: TinyPaths, store: Store, tmp_path: Path
) -> None:
    from diffusers import AutoencoderKL

    from engine.tiny_catalog import tiny_registry

    folder = tmp_path / "sdxl-vae-fp16-fix"
    vae = AutoencoderKL.from_pretrained(tiny_models.sdxl, subfolder="vae")
    vae.register_to_config(force_upcast=True)  # as a stock SDXL VAE says: the setting vouches for it
    vae.save_pretrained(folder)
    fixed = tiny_registry(tiny_models, device="cpu", sdxl_vae=str(folder))
    stock = tiny_registry(tiny_models, device="cpu")
    for mode in ("txt2img", "img2img"):  # derived pipelines share the swapped VAE
        swapped = fixed.pipeline("tiny-sdxl", mode).vae
        assert swapped.config._name_or_path == str(folder) and not swapped.config.force_upcast
    assert stock.pipeline("tiny-sdxl", "txt2img").vae.config._name_or_path != str(folder)
    assert fixed.pipeline("tiny-sd", "txt2img").vae.config._name_or_path != str(folder)  # SDXL only
    final = job("v", model="tiny-sdxl", prompt="a red fox", seeds=[3], preset="final")
    (out,) = DiffusersRunner(fixed).run([final], store.ctx())
    (ref,) = DiffusersRunner(stock).run([final], store.ctx())
    assert np.abs(pixels(out) - pixels(ref)).max() <= 2  # same weights, same image: only the upcast differs

    broken = tiny_registry(tiny_models, device="cpu", sdxl_vae=str(tmp_path / "missing"))
    with pytest.raises(BadInput, match="fp16-safe SDXL VAE"):
        broken.pipeline("tiny-sdxl", "txt2img")
