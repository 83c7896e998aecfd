"""Ledger maths: cost by stage and person, budget, and what drafting first saved."""

from __future__ import annotations

import pytest

from bot.core.ledger import FINAL_OVER_DRAFT_FACTOR, budget_spent, budget_text, cost_text, summarize
from bot.core.model import Campaign, Candidate, LedgerEntry, Settings, ThreadRef
from engine.api import JobKind

THREAD = ThreadRef(platform="web", channel_id="ch", thread_id="th")


def entry(kind: JobKind, images: int, seconds: float, user: str = "ana") -> LedgerEntry:
    return LedgerEntry(
        at=0.0, job_id=f"c1.j{images}{kind}", kind=kind, user=user, images=images, device_seconds=seconds
    )


def campaign(*entries: LedgerEntry, budget: float | None = None) -> Campaign:
    return Campaign(
        id="c1",
        thread=THREAD,
        owner="ana",
        created_at=0,
        updated_at=0,
        ledger=list(entries),
        settings=Settings(budget_seconds=budget),
    )


def test_summary_groups_by_kind_and_person() -> None:
    c = campaign(
        entry(JobKind.DRAFT, 8, 4.0, "ana"),
        entry(JobKind.VARIATION, 8, 4.0, "ben"),
        entry(JobKind.REFINE, 1, 6.0, "ana"),
        entry(JobKind.UPSCALE, 1, 1.5, "ben"),
        budget=30.0,
    )
    s = summarize(c)
    assert s.total_seconds == pytest.approx(15.5)
    assert s.total_images == 18
    assert s.by_kind[JobKind.DRAFT].images == 8
    assert s.by_kind[JobKind.REFINE].seconds == pytest.approx(6.0)
    assert s.by_user == {"ana": pytest.approx(10.0), "ben": pytest.approx(5.5)}
    assert s.budget_left == pytest.approx(14.5)


def test_saved_uses_the_measured_refine_seconds_per_image() -> None:
    c = campaign(entry(JobKind.DRAFT, 16, 8.0), entry(JobKind.REFINE, 2, 10.0))
    s = summarize(c)
    assert s.final_measured
    assert s.final_seconds_per_image == pytest.approx(5.0)
    assert s.full_quality_seconds == pytest.approx(80.0)  # 16 drafts x 5 s
    assert s.saved_seconds == pytest.approx(80.0 - 18.0)


def test_a_refines_cost_is_scaled_to_a_whole_final_image_by_its_strength() -> None:
    c = campaign(entry(JobKind.DRAFT, 16, 8.0), entry(JobKind.REFINE, 2, 10.0))
    for number in (17, 18):
        c.candidates[number] = Candidate(
            number=number,
            round_no=1,
            stage=JobKind.REFINE,
            seed=1,
            prompt="fox",
            preset="final",
            model="tiny-sd",
            strength=0.5,
        )
    s = summarize(c)
    assert s.final_seconds_per_image == pytest.approx(10.0)  # 5 s of refine ran half the steps
    assert s.full_quality_seconds == pytest.approx(160.0)
    assert s.saved_seconds == pytest.approx(160.0 - 18.0)
    assert "at strength 0.5, scaled to a whole final image" in cost_text(c)


def test_saved_without_refines_uses_the_documented_factor() -> None:
    c = campaign(entry(JobKind.DRAFT, 10, 5.0))
    s = summarize(c)
    assert not s.final_measured
    assert s.final_seconds_per_image == pytest.approx(0.5 * FINAL_OVER_DRAFT_FACTOR)
    assert s.saved_seconds == pytest.approx(10 * 0.5 * FINAL_OVER_DRAFT_FACTOR - 5.0)


def test_edits_and_upscales_are_left_out_of_the_saving() -> None:
    c = campaign(
        entry(JobKind.DRAFT, 16, 8.0), entry(JobKind.REFINE, 2, 10.0), entry(JobKind.UPSCALE, 1, 40.0)
    )
    s = summarize(c)
    assert s.total_seconds == pytest.approx(58.0)
    assert s.saved_seconds == pytest.approx(80.0 - 18.0)  # an upscale costs the same either way


def test_failed_jobs_cost_time_but_make_no_images() -> None:
    s = summarize(campaign(entry(JobKind.DRAFT, 0, 3.0)))
    assert s.total_seconds == pytest.approx(3.0)
    assert s.draft_images == 0
    assert s.saved_seconds == pytest.approx(-3.0)


def test_budget_spent_and_its_text() -> None:
    c = campaign(entry(JobKind.DRAFT, 8, 12.3), budget=10.0)
    assert budget_spent(c)
    assert budget_text(c).startswith("Budget spent: 12.3 of 10.0 device-seconds. The owner can raise it with")
    assert not budget_spent(campaign(entry(JobKind.DRAFT, 8, 9.9), budget=10.0))
    assert not budget_spent(campaign(entry(JobKind.DRAFT, 8, 1000.0)))


def test_cost_text_reports_spend_stages_people_budget_and_savings() -> None:
    c = campaign(entry(JobKind.DRAFT, 16, 8.0, "ana"), entry(JobKind.REFINE, 2, 10.0, "ben"), budget=60.0)
    text = cost_text(c)
    assert "Spent 18.0s of device time on 18 images." in text
    assert "drafts: 16 images, 8.0s" in text
    assert "refines: 2 images, 10.0s" in text
    assert "By person: ana 8.0s, ben 10.0s." in text
    assert "Budget: 60.0s, 42.0s left." in text
    assert "would have taken 80.0s" in text and "saved 62.0s" in text


def test_cost_text_before_any_work() -> None:
    assert cost_text(campaign()).startswith("Nothing spent yet")
