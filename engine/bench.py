"""``draftloop bench``: the same work run the stock way (one diffusers call per request) and the engine's
way (compatible requests batched into one call), with throughput, FLOPs and achieved TFLOP/s per stage.

    draftloop bench [--arch tiny|sd15|sdxl] [--device DEV] [--batch 8] [--steps N] [--json]
                    [--compile default|reduce-overhead|max-autotune] [--compile-backend inductor|aot_eager]

With ``--compile`` a third path, ``engine+compile``, runs each stage's engine work again after the
denoiser and VAE decoder are torch.compiled in place (engine.compile; the upscaler stays eager). Its
warm-up calls are left out of the timing: the first call's time is reported as the stage's compile
seconds. Its GFLOP/image is the eager engine path's (the work asked for; bucket padding adds more).

The work: ``--batch`` drafts from as many campaigns, one refine of the first draft, one x4 upscale.
``tiny`` runs the offline tiny models (CPU-friendly); ``sd15`` / ``sdxl`` build the full-size UNet, VAE
and text encoders from their configs with random weights (speed does not depend on weight values), so
GPU numbers need no download.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import torch
from PIL import Image

from engine.api import Job, JobKind
from engine.artifacts import ArtifactStore
from engine.batcher import make_batches
from engine.compile import DEFAULT_BACKEND, MODES
from engine.registry import ModelRegistry, ModelSpec, PostSpec, _Loaded
from engine.runner import JobOutput, RunContext

PROMPTS = (
    "a lighthouse at dusk, oil painting",
    "a red kite over green hills",
    "a robot watering plants, studio photo",
    "a bowl of ramen, top view",
    "a fox in the snow, watercolor",
    "a city skyline at night, neon",
    "an old map of an island",
    "a glass teapot on a wooden table",
)


@dataclass
class Row:
    stage: str
    path: str  # "stock" (one call per request), "engine" (batched) or "engine+compile"
    images: int
    calls: int
    seconds: float
    images_per_s: float
    ms_per_image: float
    gflop_per_image: float
    tflops: float  # achieved TFLOP/s over the counted call
    errors: int = 0  # jobs the engine path reported as failed (their time still counts)


@dataclass
class EnginePath:
    """A stage's engine work, kept to run again once compile is on."""

    stage: str
    run: Callable[[], list[JobOutput]]
    images: int
    calls: int
    flops_call: int  # counted on the eager path
    images_per_call: int


# --- full-size architectures (random weights) ------------------------------------------------------

SD15_UNET: dict[str, Any] = {
    "sample_size": 64, "in_channels": 4, "out_channels": 4, "layers_per_block": 2,
    "block_out_channels": (320, 640, 1280, 1280),
    "down_block_types": ("CrossAttnDownBlock2D",) * 3 + ("DownBlock2D",),
    "up_block_types": ("UpBlock2D",) + ("CrossAttnUpBlock2D",) * 3,
    "cross_attention_dim": 768, "attention_head_dim": 8,
}  # fmt: skip
SDXL_UNET: dict[str, Any] = {
    "sample_size": 128, "in_channels": 4, "out_channels": 4, "layers_per_block": 2,
    "block_out_channels": (320, 640, 1280),
    "down_block_types": ("DownBlock2D", "CrossAttnDownBlock2D", "CrossAttnDownBlock2D"),
    "up_block_types": ("CrossAttnUpBlock2D", "CrossAttnUpBlock2D", "UpBlock2D"),
    "transformer_layers_per_block": (1, 2, 10), "attention_head_dim": (5, 10, 20),
    "cross_attention_dim": 2048, "use_linear_projection": True,
    "addition_embed_type": "text_time", "addition_time_embed_dim": 256,
    "projection_class_embeddings_input_dim": 2816,
}  # fmt: skip
VAE: dict[str, Any] = {
    "in_channels": 3, "out_channels": 3, "latent_channels": 4, "layers_per_block": 2,
    "block_out_channels": (128, 256, 512, 512),
    "down_block_types": ("DownEncoderBlock2D",) * 4, "up_block_types": ("UpDecoderBlock2D",) * 4,
}  # fmt: skip
CLIP_L: dict[str, Any] = {
    "hidden_size": 768, "intermediate_size": 3072, "num_hidden_layers": 12, "num_attention_heads": 12,
    "max_position_embeddings": 77, "hidden_act": "quick_gelu", "projection_dim": 768,
}  # fmt: skip
CLIP_BIGG: dict[str, Any] = {
    "hidden_size": 1280, "intermediate_size": 5120, "num_hidden_layers": 32, "num_attention_heads": 20,
    "max_position_embeddings": 77, "hidden_act": "gelu", "projection_dim": 1280,
}  # fmt: skip
ESRGAN_X4PLUS: dict[str, int] = {
    "num_in_ch": 3, "num_out_ch": 3, "num_feat": 64, "num_block": 23, "num_grow_ch": 32, "scale": 4,
}  # fmt: skip


def build_arch_pipeline(arch: str, device: str, dtype: torch.dtype, scratch: Path) -> Any:
    from diffusers import (
        AutoencoderKL,
        EulerDiscreteScheduler,
        StableDiffusionPipeline,
        StableDiffusionXLPipeline,
        UNet2DConditionModel,
    )
    from transformers import CLIPTextConfig, CLIPTextModel, CLIPTextModelWithProjection

    from engine.tiny import _byte_tokenizer

    tokenizer = _byte_tokenizer(scratch / "tokenizer")

    def clip_config(base: dict[str, Any]) -> Any:
        return CLIPTextConfig(
            vocab_size=len(tokenizer), bos_token_id=tokenizer.bos_token_id,
            eos_token_id=tokenizer.eos_token_id, pad_token_id=tokenizer.pad_token_id, **base,
        )  # fmt: skip

    scheduler = EulerDiscreteScheduler(
        beta_start=0.00085,
        beta_end=0.012,
        beta_schedule="scaled_linear",
        num_train_timesteps=1000,
        steps_offset=1,
    )
    torch.manual_seed(0)
    pipe: Any
    with torch.device(device):
        if arch == "sd15":
            pipe = StableDiffusionPipeline(
                unet=UNet2DConditionModel(**SD15_UNET),
                vae=AutoencoderKL(**VAE, sample_size=512, scaling_factor=0.18215),
                text_encoder=CLIPTextModel(clip_config(CLIP_L)),
                tokenizer=tokenizer,
                scheduler=scheduler,
                safety_checker=None,
                feature_extractor=None,
                image_encoder=None,
                requires_safety_checker=False,
            )
        else:
            pipe = StableDiffusionXLPipeline(
                unet=UNet2DConditionModel(**SDXL_UNET),
                vae=AutoencoderKL(**VAE, sample_size=1024, scaling_factor=0.13025, force_upcast=False),
                text_encoder=CLIPTextModel(clip_config(CLIP_L)),
                text_encoder_2=CLIPTextModelWithProjection(clip_config(CLIP_BIGG)),
                tokenizer=tokenizer,
                tokenizer_2=tokenizer,
                scheduler=scheduler,
            )
    pipe.to(device=device, dtype=dtype)
    pipe.set_progress_bar_config(disable=True)
    return pipe


class InMemoryRegistry(ModelRegistry):
    """A registry serving one pipeline built in memory under one name (for the full-size bench)."""

    def __init__(self, name: str, family: str, pipe: Any, post: PostSpec, device: str, dtype: Any) -> None:
        super().__init__(post=post, device=device, dtype=dtype)
        self._name = name
        self._spec = ModelSpec(source="memory", family=family)
        self._loaded[name] = _Loaded(spec=self._spec, base=pipe, dtype=dtype)

    def spec(self, name: str) -> ModelSpec:
        return self._spec if name == self._name else super().spec(name)

    def _load(self, name: str) -> _Loaded:
        return self._loaded[self._name] if name == self._name else super()._load(name)


def random_esrgan_post(scratch: Path) -> PostSpec:
    from basicsr.archs.rrdbnet_arch import RRDBNet

    from engine.compat import install_functional_tensor_shim

    install_functional_tensor_shim()
    torch.manual_seed(0)
    path = scratch / "esrgan_x4plus_random.pth"
    torch.save({"params_ema": RRDBNet(**ESRGAN_X4PLUS).state_dict()}, path)
    return PostSpec(
        esrgan=path, esrgan_arch=ESRGAN_X4PLUS, gfpgan=scratch / "unused.pth", gfpgan_arch={},
        facexlib_root=scratch, tile=512,
    )  # fmt: skip


# --- measuring ---------------------------------------------------------------------------------


def _sync(device: str) -> None:
    if device.startswith("cuda"):
        torch.cuda.synchronize()


def count_flops(fn: Callable[[], object]) -> int:
    from torch.utils.flop_counter import FlopCounterMode

    with FlopCounterMode(display=False) as counter:
        fn()
    return int(counter.get_total_flops())


def timed(fn: Callable[[], object], device: str, repeats: int) -> float:
    """Median seconds of ``repeats`` runs of ``fn``."""
    times = []
    for _ in range(repeats):
        _sync(device)
        start = time.perf_counter()
        fn()
        _sync(device)
        times.append(time.perf_counter() - start)
    return sorted(times)[len(times) // 2]


def make_row(stage: str, path: str, images: int, calls: int, seconds: float, flops_call: int, call_s: float,
             images_per_call: int) -> Row:  # fmt: skip
    return Row(
        stage=stage,
        path=path,
        images=images,
        calls=calls,
        seconds=seconds,
        images_per_s=images / seconds if seconds > 0 else 0.0,
        ms_per_image=1000 * seconds / images if images else 0.0,
        gflop_per_image=flops_call / images_per_call / 1e9,
        tflops=flops_call / call_s / 1e12 if call_s > 0 else 0.0,
    )


def _png(img: Image.Image) -> bytes:
    buf = io.BytesIO()
    img.save(buf, format="PNG")
    return buf.getvalue()


@dataclass
class Setup:
    registry: ModelRegistry
    runner: Any
    model: str
    device: str
    store: ArtifactStore


def setup(args: argparse.Namespace, scratch: Path) -> Setup:
    from engine.pipeline_runner import DiffusersRunner

    device = args.device or ("cuda" if torch.cuda.is_available() else "cpu")
    dtype = torch.float16 if device.startswith("cuda") else torch.float32
    if args.arch == "tiny":
        from engine.tiny import build_tiny_models

        models = Path(args.models) if args.models else scratch / "models"
        registry: ModelRegistry = ModelRegistry.with_tiny(
            build_tiny_models(models), device=device, dtype=dtype
        )
        model = "tiny-sd"
    else:
        pipe = build_arch_pipeline(args.arch, device, dtype, scratch)
        registry = InMemoryRegistry(args.arch, args.arch, pipe, random_esrgan_post(scratch), device, dtype)
        model = args.arch
    store = ArtifactStore(scratch / "artifacts")
    return Setup(registry, DiffusersRunner(registry), model, device, store)


def _draft_jobs(s: Setup, args: argparse.Namespace) -> list[Job]:
    return [
        Job(job_id=f"draft-{i}", campaign_id=f"campaign-{i}", kind=JobKind.DRAFT, model=s.model,
            prompt=PROMPTS[i % len(PROMPTS)], seeds=[1000 + i], steps=args.steps)
        for i in range(args.batch)
    ]  # fmt: skip


def _noise_png(res: Any) -> bytes:
    import numpy as np

    rng = np.random.default_rng(0)
    return _png(Image.fromarray(rng.integers(0, 256, size=(res.height, res.width, 3), dtype=np.uint8)))


def bench_drafts(s: Setup, args: argparse.Namespace) -> tuple[list[Row], list[JobOutput], EnginePath]:
    jobs = _draft_jobs(s, args)
    res = s.runner.resolved(jobs[0])
    pipe = s.registry.pipeline(s.model, "txt2img", tiny_vae=res.tiny_vae)
    s.registry.set_scheduler(pipe, res.scheduler)
    ctx = RunContext(load_artifact=s.store.get)

    def stock_one(job: Job) -> bytes:
        with torch.inference_mode():
            out = pipe(
                job.prompt, generator=torch.Generator("cpu").manual_seed(job.seeds[0]), width=res.width,
                height=res.height, num_inference_steps=res.steps, guidance_scale=res.guidance,
            )  # fmt: skip
        return _png(out.images[0])

    def stock_all() -> None:
        for job in jobs:
            stock_one(job)

    outputs: list[JobOutput] = []

    def engine_all() -> list[JobOutput]:
        outputs.clear()
        for batch in make_batches(jobs, lambda j: j, s.runner.group_key, args.max_batch):
            outputs.extend(s.runner.run(batch.items, ctx))
        return list(outputs)

    stock_one(jobs[0])  # warm-up
    engine_all()
    stock_s = timed(stock_all, s.device, args.repeats)
    engine_s = timed(engine_all, s.device, args.repeats)
    batches = make_batches(jobs, lambda j: j, s.runner.group_key, args.max_batch)
    first, calls = batches[0].items, len(batches)
    stock_call_s, engine_call_s = stock_s / len(jobs), engine_s / calls
    stock_flops = count_flops(lambda: stock_one(jobs[0]))
    engine_flops = count_flops(lambda: s.runner.run(first, ctx))
    rows = [
        make_row("draft", "stock", len(jobs), len(jobs), stock_s, stock_flops, stock_call_s, 1),
        make_row("draft", "engine", len(jobs), calls, engine_s, engine_flops, engine_call_s, len(first)),
    ]
    later = EnginePath("draft", engine_all, len(jobs), calls, engine_flops, len(first))
    return rows, list(outputs), later


def bench_single(
    s: Setup, args: argparse.Namespace, stage: str, job: Job, stock: Callable[[], object]
) -> tuple[list[Row], EnginePath]:
    ctx = RunContext(load_artifact=s.store.get)

    errors: list[str] = []

    def engine() -> list[JobOutput]:
        (out,) = s.runner.run([job], ctx)
        if out.error:  # e.g. random fp16 weights overflowing: the timing still counts, the report says so
            errors.append(out.error)
        return [out]

    stock()
    engine()
    stock_s = timed(stock, s.device, args.repeats)
    engine_s = timed(engine, s.device, args.repeats)
    stock_flops = count_flops(stock)
    engine_flops = count_flops(engine)
    rows = [
        make_row(stage, "stock", 1, 1, stock_s, stock_flops, stock_s, 1),
        make_row(stage, "engine", 1, 1, engine_s, engine_flops, engine_s, 1),
    ]
    rows[1].errors = len(set(errors))
    return rows, EnginePath(stage, engine, 1, 1, engine_flops, 1)


def bench_refine(s: Setup, args: argparse.Namespace, source: str) -> tuple[list[Row], EnginePath]:
    job = Job(
        job_id="refine-0", campaign_id="campaign-0", kind=JobKind.REFINE, model=s.model, prompt=PROMPTS[0],
        seeds=[1000], init_image=source, preset="final", steps=args.steps,
    )  # fmt: skip
    res = s.runner.resolved(job)
    strength = s.runner.strength(job)
    pipe = s.registry.pipeline(s.model, "img2img")
    image = Image.open(io.BytesIO(s.store.get(source))).convert("RGB").resize((res.width, res.height))

    def stock() -> bytes:
        s.registry.set_scheduler(pipe, res.scheduler)
        with torch.inference_mode():
            out = pipe(
                job.prompt, image=image, strength=strength,
                generator=torch.Generator("cpu").manual_seed(1000),
                num_inference_steps=res.steps, guidance_scale=res.guidance,
            )  # fmt: skip
        return _png(out.images[0])

    return bench_single(s, args, "refine", job, stock)


def bench_upscale(s: Setup, args: argparse.Namespace, source: str) -> tuple[list[Row], EnginePath]:
    import numpy as np

    job = Job(job_id="upscale-0", campaign_id="campaign-0", kind=JobKind.UPSCALE, model=s.model, seeds=[1000],
              init_image=source, scale=4)  # fmt: skip
    upscaler = s.registry.upscaler()
    bgr = np.ascontiguousarray(
        np.asarray(Image.open(io.BytesIO(s.store.get(source))).convert("RGB"))[:, :, ::-1]
    )

    def stock() -> bytes:
        with contextlib.redirect_stdout(io.StringIO()):  # RealESRGANer prints per tile
            out, _ = upscaler.enhance(bgr, outscale=4)
        return _png(Image.fromarray(np.ascontiguousarray(out[:, :, ::-1])))

    return bench_single(s, args, "upscale", job, stock)


def bench_compiled(s: Setup, args: argparse.Namespace, path: EnginePath) -> tuple[Row, float]:
    """The engine path again with compile on: its row and the seconds of its first (compiling) call."""
    _sync(s.device)
    start = time.perf_counter()
    outputs = path.run()
    _sync(s.device)
    compile_s = time.perf_counter() - start
    path.run()  # a second warm-up: CUDA graphs are recorded on a later call than the compiling one
    seconds = timed(path.run, s.device, args.repeats)
    row = make_row(stage=path.stage, path="engine+compile", images=path.images, calls=path.calls,
                   seconds=seconds, flops_call=path.flops_call, call_s=seconds / path.calls,
                   images_per_call=path.images_per_call)  # fmt: skip
    row.errors = sum(1 for out in outputs if out.error)
    return row, compile_s


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="draftloop bench", description="Stock one-at-a-time vs batched engine.")
    p.add_argument("--arch", choices=("tiny", "sd15", "sdxl"), default="tiny")
    p.add_argument("--device", default=None, help="torch device (default: cuda when available)")
    p.add_argument("--batch", type=int, default=8, help="drafts, one per campaign")
    p.add_argument("--max-batch", type=int, default=32, help="images per engine call")
    p.add_argument("--steps", type=int, default=None, help="override the preset's steps")
    p.add_argument(
        "--repeats", type=int, default=None, help="timed runs per path (median); default 3 CPU, 5 GPU"
    )
    p.add_argument(
        "--models", default=None, help="folder of the tiny models, built if missing (default: temp)"
    )
    p.add_argument("--skip", default="", help="comma-separated stages to skip: refine,upscale")
    p.add_argument(
        "--compile",
        choices=MODES,
        default="off",
        help="add an engine+compile path in this torch.compile mode",
    )
    p.add_argument(
        "--compile-backend",
        default=DEFAULT_BACKEND,
        help="torch.compile backend for --compile (inductor; aot_eager for a quick CPU check)",
    )
    p.add_argument("--json", action="store_true", help="print JSON instead of a table")
    return p


def run_bench(args: argparse.Namespace) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="dl-bench-") as tmp:
        s = setup(args, Path(tmp))
        if args.repeats is None:
            args.repeats = 5 if s.device.startswith("cuda") else 3
        skip = {x.strip() for x in args.skip.split(",") if x.strip()}
        rows, outputs, draft_path = bench_drafts(s, args)
        paths = [draft_path]
        made = [img.png for out in outputs for img in out.images]
        first = s.store.put(made[0] if made else _noise_png(s.runner.resolved(_draft_jobs(s, args)[0])))
        rows[1].errors = sum(1 for out in outputs if out.error)
        for stage, bench_stage in (("refine", bench_refine), ("upscale", bench_upscale)):
            if stage not in skip:
                stage_rows, path = bench_stage(s, args, first)
                rows += stage_rows
                paths.append(path)
        compile_seconds: dict[str, float] = {}
        if args.compile != "off":
            s.registry.enable_compile(args.compile, args.compile_backend)
            for path in paths:
                row, compile_seconds[path.stage] = bench_compiled(s, args, path)
                rows.append(row)
    order = {"stock": 0, "engine": 1, "engine+compile": 2}
    stages = list(dict.fromkeys(row.stage for row in rows))
    rows.sort(key=lambda row: (stages.index(row.stage), order[row.path]))
    by_stage: dict[str, dict[str, Row]] = {}
    for row in rows:
        by_stage.setdefault(row.stage, {})[row.path] = row
    speedup = {
        stage: paths["stock"].seconds / paths["engine"].seconds
        for stage, paths in by_stage.items()
        if paths["engine"].seconds > 0
    }
    compile_speedup = {
        stage: paths["engine"].seconds / paths["engine+compile"].seconds
        for stage, paths in by_stage.items()
        if "engine+compile" in paths and paths["engine+compile"].seconds > 0
    }
    name = torch.cuda.get_device_name() if s.device.startswith("cuda") else "cpu"
    return {
        "arch": args.arch,
        "device": s.device,
        "device_name": name,
        "torch": torch.__version__,
        "drafts": args.batch,
        "repeats": args.repeats,
        "compile": args.compile,
        "compile_backend": args.compile_backend if args.compile != "off" else None,
        "rows": [asdict(r) for r in rows],
        "speedup": speedup,
        "compile_seconds": compile_seconds,
        "compile_speedup": compile_speedup,
    }


def format_table(report: dict[str, Any]) -> str:
    head = f"draftloop bench: arch={report['arch']} device={report['device_name']} drafts={report['drafts']}"
    if report.get("compile", "off") != "off":
        head += f" compile={report['compile']} backend={report['compile_backend']}"
    cols = ("stage", "path", "images", "calls", "seconds", "images/s", "ms/image", "GFLOP/image", "TFLOP/s")
    widths = [11, 14, *[11] * (len(cols) - 2)]  # the path column fits "engine+compile"
    lines = [head, "  ".join(f"{c:>{w}}" for c, w in zip(cols, widths, strict=True))]
    for r in report["rows"]:
        cells = (
            r["stage"], r["path"], r["images"], r["calls"], f"{r['seconds']:.3f}", f"{r['images_per_s']:.2f}",
            f"{r['ms_per_image']:.1f}", f"{r['gflop_per_image']:.3f}", f"{r['tflops']:.4f}",
        )  # fmt: skip
        lines.append("  ".join(f"{c!s:>{w}}" for c, w in zip(cells, widths, strict=True)))
    lines.append(
        "speedup (stock s / engine s): " + ", ".join(f"{k} {v:.2f}x" for k, v in report["speedup"].items())
    )
    if report.get("compile_seconds"):
        lines.append(
            "compile seconds (first engine+compile call, not timed above): "
            + ", ".join(f"{k} {v:.1f}" for k, v in report["compile_seconds"].items())
        )
        lines.append(
            "speedup (engine s / engine+compile s): "
            + ", ".join(f"{k} {v:.2f}x" for k, v in report["compile_speedup"].items())
        )
    return "\n".join(lines)


def bench_main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    report = run_bench(args)
    print(json.dumps(report, indent=2) if args.json else format_table(report))
    return 0


if __name__ == "__main__":
    raise SystemExit(bench_main())
