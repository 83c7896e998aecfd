"""The demo's page says what happened in words a person reads, not Python values."""

from __future__ import annotations

import re

from bot.core.model import Campaign, Candidate, LedgerEntry, ThreadRef
from bot.demo_page import demo_page, path_text, vote_text
from engine.api import JobKind


def campaign() -> Campaign:
    c = Campaign(
        id="c0ffee",
        thread=ThreadRef(platform="demo", channel_id="studio", thread_id="t1"),
        owner="ana",
        created_at=0.0,
        updated_at=0.0,
    )
    c.settings.prompt = "a lighthouse <at> dusk"
    kinds = [(n, JobKind.DRAFT, None) for n in range(1, 9)] + [
        (9, JobKind.REFINE, 3),
        (10, JobKind.INPAINT, 9),
    ]
    for n, kind, parent in kinds:
        c.candidates[n] = Candidate(
            number=n,
            round_no=1,
            stage=kind,
            parent=parent,
            seed=1000 + n,
            prompt="p",
            preset="draft",
            model="tiny-sd",
            width=48,
            height=32,
        )
    c.ledger.append(
        LedgerEntry(at=0, job_id="j1", kind=JobKind.DRAFT, user="ana", images=8, device_seconds=1.5)
    )
    return c


def test_the_vote_and_the_path_read_as_sentences() -> None:
    votes = {3: ["ana", "ben"], 6: ["chloe"]}
    assert vote_text([3], votes) == "#3 won with 2 votes (ana, ben); #6 got 1 vote (chloe)."
    assert vote_text([], {}) == "no votes."
    made = {"draft": list(range(1, 9)), "vote": [3], "refine": [9], "inpaint": [10]}
    assert path_text(made) == "8 drafts → refined #9 → inpainted #10"


def test_the_page_has_every_image_captioned_and_no_raw_lists() -> None:
    made = {"draft": list(range(1, 9)), "vote": [3], "refine": [9], "inpaint": [10]}
    paths = {n: f"x/{n:03d}.png" for n in range(1, 11)}
    page = demo_page(campaign(), made, {3: ["ana", "ben"], 6: ["chloe"]}, paths, tiny_model=True)
    assert page.count("<img") == 10
    assert "#3 won with 2 votes (ana, ben); #6 got 1 vote (chloe)." in page
    assert "8 drafts → refined #9 → inpainted #10" in page
    assert "1.50 s in 1 jobs" in page
    assert "a lighthouse &lt;at&gt; dusk" in page and "<at>" not in page
    assert 'name="viewport"' in page and "tiny random-weight" in page
    assert "#9 · seed 1009 · draft · 48×32 · from #3" in page
    assert page.count("★ winner") == 1
    assert not re.search(r"\[\d+(, \d+)*\]", page), "a Python list leaked into the page"
