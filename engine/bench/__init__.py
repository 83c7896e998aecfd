"""``draftloop bench``: the same work run the stock way (one diffusers call per request) and the engine's
way (compatible requests batched into one call), with throughput, FLOPs and achieved TFLOP/s per stage,
and the standard campaign priced from them.

    draftloop bench [--arch tiny|sd15|sdxl] [--device DEV] [--dtype D] [--batch 8] [--steps N]
                    [--long-side PX] [--repeats N] [--budget S] [--json]
                    [--compile default|reduce-overhead|max-autotune] [--compile-backend inductor|aot_eager]
    draftloop bench --suite gpu --budget 480 --json

The work: ``--batch`` drafts from as many campaigns, one image straight at final quality, one refine of
the first draft, one x4 upscale. ``tiny`` runs the offline tiny models (CPU-friendly); ``sd15`` / ``sdxl``
build the full-size UNet, VAE, TAESD draft decoder and text encoders from their configs with random
weights (engine.sd_family), so GPU numbers need no download; ``--long-side`` shrinks the latents (the
channel widths stay real) so the same code runs on a CPU. The random weights are filled in one pass per
parameter, not by each module's slow initialisation; on a CPU every matrix is a view into one random block
(a few hundred MB instead of 4-7 GB; same shapes and FLOPs) and the x4 upscaler gets a 32 px cut of the
draft. With ``--repeats 1`` there is no warm-up: the FLOP-counting run of each path comes first.

With ``--compile`` an ``engine+compile`` path runs each stage's engine work again after the denoiser
and VAE decoder are torch.compiled in place (engine.compile; the upscaler stays eager). Its warm-up calls
are left out of the timing: the first call's time is reported as the stage's compile seconds.
"""

from engine.bench.cli import bench_main, build_parser
from engine.bench.report import format_suite, format_table
from engine.bench.run import run_bench
from engine.bench.suite import run_suite

__all__ = ["bench_main", "build_parser", "format_suite", "format_table", "run_bench", "run_suite"]
