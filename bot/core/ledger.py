"""Ledger maths: what each stage cost, who spent it, and what drafting first saved."""

from __future__ import annotations

from pydantic import BaseModel, Field

from bot.core.model import Campaign
from engine.api import JobKind

# With no refine measured yet, a final-preset image is estimated at this many draft images: the final
# preset renders about 4x the pixels with about 4x the steps of the draft preset and a full decoder,
# and attention grows faster than the pixel count, so 12x is a conservative middle.
FINAL_OVER_DRAFT_FACTOR = 12.0

DRAFT_KINDS = frozenset({JobKind.DRAFT, JobKind.VARIATION, JobKind.IMG2IMG})


class KindCost(BaseModel):
    seconds: float = 0.0
    images: int = 0
    jobs: int = 0


class CostSummary(BaseModel):
    total_seconds: float = 0.0
    total_images: int = 0
    by_kind: dict[JobKind, KindCost] = Field(default_factory=dict)
    by_user: dict[str, float] = Field(default_factory=dict)
    budget_seconds: float | None = None
    budget_left: float | None = None
    draft_images: int = 0
    # seconds one final-preset image costs: measured from refines, else estimated from drafts
    final_seconds_per_image: float = 0.0
    final_measured: bool = False
    full_quality_seconds: float = 0.0  # the draft images, had they all been made at the final preset
    # full_quality_seconds minus what drafting and refining really cost (edits and upscales cost the same
    # either way, so they are left out of the comparison)
    saved_seconds: float = 0.0


def summarize(campaign: Campaign) -> CostSummary:
    summary = CostSummary(budget_seconds=campaign.settings.budget_seconds)
    for entry in campaign.ledger:
        cost = summary.by_kind.setdefault(entry.kind, KindCost())
        cost.seconds += entry.device_seconds
        cost.images += entry.images
        cost.jobs += 1
        summary.total_seconds += entry.device_seconds
        summary.total_images += entry.images
        summary.by_user[entry.user] = summary.by_user.get(entry.user, 0.0) + entry.device_seconds
    if summary.budget_seconds is not None:
        summary.budget_left = max(summary.budget_seconds - summary.total_seconds, 0.0)

    drafts = [summary.by_kind[k] for k in DRAFT_KINDS if k in summary.by_kind]
    summary.draft_images = sum(c.images for c in drafts)
    draft_seconds = sum(c.seconds for c in drafts)
    refine = summary.by_kind.get(JobKind.REFINE)
    if refine is not None and refine.images > 0:
        # a refine denoises only `strength` of a final-preset txt2img's steps: scale it up to a whole one
        summary.final_seconds_per_image = refine.seconds / refine.images / refine_strength(campaign)
        summary.final_measured = True
    elif summary.draft_images > 0:
        summary.final_seconds_per_image = draft_seconds / summary.draft_images * FINAL_OVER_DRAFT_FACTOR
    summary.full_quality_seconds = summary.draft_images * summary.final_seconds_per_image
    refined = refine.seconds if refine is not None else 0.0
    summary.saved_seconds = summary.full_quality_seconds - draft_seconds - refined
    return summary


def refine_strength(campaign: Campaign) -> float:
    """The mean img2img strength of the campaign's refines: the share of a full denoise they run (1 when
    unknown, which leaves the estimate at the refine's own cost)."""
    strengths = [
        c.strength
        for c in campaign.candidates.values()
        if c.stage == JobKind.REFINE and c.strength is not None and 0 < c.strength <= 1
    ]
    return sum(strengths) / len(strengths) if strengths else 1.0


def budget_spent(campaign: Campaign) -> bool:
    budget = campaign.settings.budget_seconds
    return budget is not None and campaign.spent_seconds() >= budget


def format_seconds(seconds: float) -> str:
    if seconds < 120:
        return f"{seconds:.1f}s"
    if seconds < 7200:
        return f"{seconds / 60:.1f} min"
    return f"{seconds / 3600:.1f} h"


def budget_text(campaign: Campaign) -> str:
    budget = campaign.settings.budget_seconds or 0.0
    spent = campaign.spent_seconds()
    suggestion = max(2 * budget, spent + budget, 60.0)
    minutes = int(-(-suggestion // 60))
    return (
        f"Budget spent: {spent:.1f} of {budget:.1f} device-seconds. "
        f"The owner can raise it with /settings budget {minutes}m."
    )


_KIND_LABEL = {
    JobKind.DRAFT: "drafts",
    JobKind.VARIATION: "variations",
    JobKind.IMG2IMG: "image-to-image drafts",
    JobKind.REFINE: "refines",
    JobKind.INPAINT: "inpaints",
    JobKind.OUTPAINT: "outpaints",
    JobKind.UPSCALE: "upscales",
    JobKind.RESTORE_FACES: "face restores",
}


def _images(count: int) -> str:
    return f"{count} image{'s' if count != 1 else ''}"


def cost_text(campaign: Campaign) -> str:
    s = summarize(campaign)
    if not campaign.ledger:
        return "Nothing spent yet: no images have been made in this campaign."
    lines = [f"Spent {format_seconds(s.total_seconds)} of device time on {_images(s.total_images)}."]
    for kind in JobKind:
        cost = s.by_kind.get(kind)
        if cost is not None:
            lines.append(f"• {_KIND_LABEL[kind]}: {_images(cost.images)}, {format_seconds(cost.seconds)}")
    if len(s.by_user) > 1:
        people = ", ".join(
            f"{user or 'the team'} {format_seconds(sec)}" for user, sec in sorted(s.by_user.items())
        )
        lines.append(f"By person: {people}.")
    if s.budget_seconds is not None and s.budget_left is not None:
        lines.append(f"Budget: {format_seconds(s.budget_seconds)}, {format_seconds(s.budget_left)} left.")
    if s.draft_images:
        strength = refine_strength(campaign)
        scaled = f" at strength {strength:g}, scaled to a whole final image" if strength < 1 else ""
        basis = (
            f"measured from this campaign's refines{scaled}"
            if s.final_measured
            else (f"estimated at {FINAL_OVER_DRAFT_FACTOR:g}x a draft")
        )
        per = format_seconds(s.final_seconds_per_image)
        full = format_seconds(s.full_quality_seconds)
        if s.saved_seconds >= 0:
            verdict = f"drafting first saved {format_seconds(s.saved_seconds)}"
        else:
            verdict = f"drafting first cost {format_seconds(-s.saved_seconds)} more so far"
        lines.append(
            f"At full quality the {s.draft_images} drafts would have taken {full} "
            f"({per} each, {basis}): {verdict}."
        )
    return "\n".join(lines)
