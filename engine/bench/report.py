"""The bench's table: one line per (stage, path), then speedups, compile times and the campaign."""

from __future__ import annotations

from typing import Any

from engine.bench.campaign import campaign_lines

COLUMNS = ("stage", "path", "images", "calls", "seconds", "images/s", "ms/image", "GFLOP/image", "TFLOP/s")
WIDTHS = (8, 14, 7, 6, 9, 9, 10, 12, 9)  # the path column fits "engine+compile"


def _row_cells(r: dict[str, Any]) -> tuple[object, ...]:
    return (
        r["stage"], r["path"], r["images"], r["calls"], f"{r['seconds']:.3f}", f"{r['images_per_s']:.2f}",
        f"{r['ms_per_image']:.1f}", f"{r['gflop_per_image']:.3f}", f"{r['tflops']:.4f}",
    )  # fmt: skip


def _line(cells: tuple[object, ...], prefix: str = "") -> str:
    return prefix + "  ".join(f"{c!s:>{w}}" for c, w in zip(cells, WIDTHS, strict=True))


def format_table(report: dict[str, Any]) -> str:
    head = (
        f"draftloop bench: arch={report['arch']} device={report['device_name']} dtype={report['dtype']} "
        f"drafts={report['drafts']} draft size={'x'.join(map(str, report['draft_size']))} "
        f"draft decoder={report['draft_decoder']} "
        f"repeats={report['repeats']} weights={report.get('weights', 'seeded')}"
    )
    if report.get("upscale_side"):
        head += f" upscale input<={report['upscale_side']}px"
    if report.get("compile", "off") != "off":
        head += f" compile={report['compile']} backend={report['compile_backend']}"
    lines = [head, _line(COLUMNS)]
    lines += [_line(_row_cells(r)) for r in report["rows"]]
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
    lines += campaign_lines(report)
    if report.get("not_reached"):
        lines.append("not reached within the budget: " + ", ".join(report["not_reached"]))
    return "\n".join(lines)


def format_suite(suite: dict[str, Any]) -> str:
    """One table for every run of the suite: a run column in front of each row."""
    lines = [
        f"draftloop bench suite {suite['suite']}: device={suite['device_name']} budget={suite['budget_s']} s "
        f"used={suite['seconds']:.0f} s" + (" (stopped at the budget)" if suite["stopped_at_budget"] else ""),
        f"{'run':>22}  " + _line(COLUMNS),
    ]
    for run in suite["runs"]:
        label = f"{run['arch']}/{run['compile']}"
        lines += [f"{label:>22}  " + _line(_row_cells(r)) for r in run["rows"]]
    for run in suite["runs"]:
        c = run.get("campaign")
        if c:
            lines.append(
                f"campaign {run['arch']}/{run['compile']}: {c['drafted_total_ms'] / 1000:.2f} s vs "
                f"{c['baseline_total_ms'] / 1000:.2f} s at final quality: saving {c['saving_percent']:.1f}%"
            )
        if run.get("compile_seconds"):
            lines.append(
                f"compile {run['arch']}/{run['compile']}: first call "
                + ", ".join(f"{k} {v:.1f} s" for k, v in run["compile_seconds"].items())
                + "; speedup "
                + ", ".join(f"{k} {v:.2f}x" for k, v in run["compile_speedup"].items())
            )
    if suite["not_run"]:
        lines.append("not run within the budget: " + ", ".join(suite["not_run"]))
    return "\n".join(lines)
