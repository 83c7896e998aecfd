"""The standard campaign, priced from the bench's measured per-image times: 30 drafts → the team's top 5
→ 5 refines → 5 upscales, against the same deliverables made with no drafting: 30 images at final
quality (one stock call each) and 5 upscales."""

from __future__ import annotations

from typing import Any

DRAFTS = 30
WINNERS = 5
NEEDED = (("draft", "engine"), ("refine", "engine"), ("upscale", "engine"), ("final", "stock"),
          ("upscale", "stock"))  # fmt: skip


def campaign(ms: dict[tuple[str, str], float]) -> dict[str, Any] | None:
    """``ms``: milliseconds per image by (stage, path); None when a stage it needs was not measured."""
    if any(key not in ms for key in NEEDED):
        return None
    drafted = {
        "drafts": DRAFTS * ms["draft", "engine"],
        "refines": WINNERS * ms["refine", "engine"],
        "upscales": WINNERS * ms["upscale", "engine"],
    }
    finals = {"finals": DRAFTS * ms["final", "stock"], "upscales": WINNERS * ms["upscale", "stock"]}
    drafted_ms, finals_ms = sum(drafted.values()), sum(finals.values())
    report: dict[str, Any] = {
        "plan": f"{DRAFTS} drafts -> top {WINNERS} -> {WINNERS} refines -> {WINNERS} upscales",
        "baseline": f"{DRAFTS} images at final quality + {WINNERS} upscales (stock, one call each)",
        "drafted_ms": drafted,
        "baseline_ms": finals,
        "drafted_total_ms": drafted_ms,
        "baseline_total_ms": finals_ms,
        "saving_percent": 100 * (1 - drafted_ms / finals_ms) if finals_ms > 0 else 0.0,
    }
    if ("final", "engine") in ms:  # the same deliverables, finals batched by the engine instead
        engine_finals = DRAFTS * ms["final", "engine"] + WINNERS * ms["upscale", "engine"]
        report["engine_baseline_total_ms"] = engine_finals
        report["saving_vs_engine_finals_percent"] = (
            100 * (1 - drafted_ms / engine_finals) if engine_finals > 0 else 0.0
        )
    return report


def campaign_lines(report: dict[str, Any]) -> list[str]:
    c = report.get("campaign")
    if not c:
        return ["campaign: not priced (a stage it needs was skipped or not reached)"]
    parts = ", ".join(f"{name} {ms / 1000:.2f} s" for name, ms in c["drafted_ms"].items())
    base = ", ".join(f"{name} {ms / 1000:.2f} s" for name, ms in c["baseline_ms"].items())
    return [
        f"campaign: {c['plan']}: {c['drafted_total_ms'] / 1000:.2f} s ({parts})",
        f"  vs {c['baseline']}: {c['baseline_total_ms'] / 1000:.2f} s ({base})",
        f"  saving {c['saving_percent']:.1f}%",
    ]
