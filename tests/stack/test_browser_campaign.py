"""A whole campaign in the playground served by `draftloop up`, driven by clicking and typing in Chromium.

Three people (ana, ben and chloe, through the page's user switcher) draft, vote, and get the winner
refined, inpainted and upscaled by the real engine worker.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Locator, Page, expect, sync_playwright

from tests.stack.upstack import UpProcess, free_port

CHROMIUM = "/usr/bin/chromium"
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]
SHOTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "browser-campaign"
STAGE_MS = 240_000  # the longest one stage may take on a slow CPU
UI_MS = 30_000  # a click or a typed command showing on the page

pytestmark = [
    pytest.mark.browser,
    pytest.mark.slow,
    pytest.mark.timeout(1800),
    pytest.mark.skipif(
        not Path(CHROMIUM).exists(), reason=f"{CHROMIUM} is not installed (apt-get install chromium)"
    ),
]


@pytest.fixture
def up(tmp_path: Path) -> Iterator[UpProcess]:
    proc = UpProcess(tmp_path / "data", free_port())
    try:
        proc.wait_ready(timeout=600)
        yield proc
    finally:
        code = proc.stop()
        print(proc.output()[-4000:])
        assert code == 0, f"draftloop up exited with {code}"


@pytest.fixture
def browser() -> Iterator[Browser]:
    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        try:
            yield b
        finally:
            b.close()


class Campaign:
    """The playground page as the team uses it, plus where its screenshots go."""

    def __init__(self, page: Page, up: UpProcess) -> None:
        self.page = page
        self.up = up
        self.shot_no = 0
        SHOTS.mkdir(parents=True, exist_ok=True)
        for old in SHOTS.glob("*.png"):
            old.unlink()

    def shot(self, name: str) -> None:
        self.shot_no += 1
        self.page.screenshot(path=str(SHOTS / f"{self.shot_no:02d}-{name}.png"), full_page=True)

    def act_as(self, user: str) -> None:
        button = self.page.locator(f'.user-btn[data-user="{user}"]')
        button.click()
        expect(button).to_have_attribute("aria-checked", "true")
        expect(self.page.locator("#conn")).to_have_text("live", timeout=UI_MS)

    def type_command(self, text: str) -> None:
        box = self.page.locator("#command")
        box.fill(text)
        box.press("Enter")
        expect(box).to_have_value("", timeout=UI_MS)

    def stage(self) -> Locator:
        return self.page.locator("#crumb-stage")

    def tile(self, caption: str) -> Locator:
        """The one image tile whose caption says ``caption`` (e.g. "refined from #2")."""
        return self.page.locator(".msg.grid .tile").filter(
            has=self.page.locator(".tile-caption", has_text=caption)
        )

    def natural_size(self, tile: Locator) -> tuple[int, int]:
        """The pixel size of the image file the tile shows, once the browser has loaded it."""
        img = tile.locator("img")
        img.scroll_into_view_if_needed()
        img.evaluate(
            """i => i.complete && i.naturalWidth > 0 ? null : new Promise((ok, bad) => {
                 i.addEventListener('load', ok, {once: true});
                 i.addEventListener('error', () => bad(new Error('image failed: ' + i.src)), {once: true});
               })"""
        )
        w, h = img.evaluate("i => [i.naturalWidth, i.naturalHeight]")
        return int(w), int(h)

    def vote(self, emoji: str, expect_count: str) -> None:
        reaction = self.page.locator(f'.msg.grid .reaction[data-emoji="{emoji}"]')
        reaction.click()
        expect(reaction).to_have_class(re.compile(r"\bmine\b"), timeout=UI_MS)
        expect(reaction.locator(".count")).to_have_text(expect_count, timeout=UI_MS)

    def missing(self, what: str, exc: AssertionError) -> AssertionError:
        """A failure that says which stage stopped, with a screenshot and the end of the up log."""
        self.shot(f"{what.replace(' ', '-')}-missing")
        return AssertionError(f"the {what} never showed: {exc}\n--- up log ---\n{self.up.output()[-4000:]}")


def test_a_team_runs_a_whole_campaign_in_the_playground(up: UpProcess, browser: Browser) -> None:
    context = browser.new_context(viewport={"width": 1480, "height": 940})
    page = context.new_page()
    page.set_default_timeout(UI_MS)
    team = Campaign(page, up)
    page.goto(up.url)
    expect(page.locator("#channels")).to_contain_text("general")
    expect(page.locator("#conn")).to_have_text("live")
    team.act_as("ana")

    # a bad command: ana sees why, ben sees nothing of it
    team.type_command("/draft --n 99 x")
    error = page.locator(".msg.reply")
    expect(error).to_have_count(1)
    expect(error).to_contain_text("--n")
    expect(error).to_contain_text("'99'")
    expect(error).to_contain_text("only visible to you")
    team.shot("error-shown-to-ana")
    team.act_as("ben")
    expect(page.locator(".empty")).to_be_visible()
    expect(page.locator(".msg.reply")).to_have_count(0)
    expect(page.locator(".msg.user")).to_have_count(0)
    team.shot("error-hidden-from-ben")
    team.act_as("ana")
    expect(page.locator(".msg.reply")).to_have_count(1)

    # ana drafts: the thread opens and the grid of four drafts arrives
    team.type_command("/draft a lighthouse on a cliff at dawn --n 4 --quorum 3 --vote 1h")
    expect(page).to_have_url(re.compile(r"#/general/t[0-9a-f]+$"))
    expect(page.locator("#crumb-thread")).to_have_text("a lighthouse on a cliff at dawn")
    team.shot("thread-opened")
    try:
        expect(page.locator(".msg.grid .tile")).to_have_count(4, timeout=STAGE_MS)
        expect(team.stage()).to_have_text("voting", timeout=UI_MS)
    except AssertionError as exc:
        raise team.missing("drafts", exc) from exc
    drafts = page.locator(".msg.grid .tile")
    draft_sizes = {team.natural_size(drafts.nth(i)) for i in range(4)}
    assert len(draft_sizes) == 1, f"drafts of one campaign differ in size: {draft_sizes}"
    ((draft_w, draft_h),) = draft_sizes
    assert draft_w > 0 and draft_h > 0
    for i in range(4):
        expect(drafts.nth(i).locator(".tile-num")).to_contain_text(f"#{i + 1}")
    team.shot("drafts-voting")

    # the team votes: ana and ben for #2, chloe for #3; everyone's page shows the counts
    team.vote("2️⃣", "1")
    team.act_as("ben")
    expect(page.locator('.msg.grid .reaction[data-emoji="2️⃣"] .count')).to_have_text("1")
    team.vote("2️⃣", "2")
    expect(page.locator('.msg.grid .reaction[data-emoji="1️⃣"] .count')).to_have_text("0")
    expect(page.locator('.msg.grid .reaction[data-emoji="3️⃣"] .count')).to_have_text("0")
    expect(page.locator(".tile[data-number='2'] .tile-votes")).to_have_text("▲ 2")
    expect(team.stage()).to_have_text("voting")
    team.shot("two-votes-for-2")
    team.act_as("chloe")
    expect(page.locator('.msg.grid .reaction[data-emoji="2️⃣"] .count')).to_have_text("2")
    team.vote("3️⃣", "1")
    expect(page.locator('.msg.grid .reaction[data-emoji="2️⃣"] .count')).to_have_text("2")
    expect(page.locator('.msg.grid .reaction[data-emoji="4️⃣"] .count')).to_have_text("0")
    team.shot("chloe-votes-quorum")

    # the quorum of three closes the round; #2 wins and is refined at full quality by itself
    log = page.locator("#log")
    expect(log).to_contain_text("reached its quorum", timeout=UI_MS)
    expect(log).to_contain_text("the team picked #2 (2 votes)")
    try:
        expect(team.stage()).to_have_text("editing", timeout=STAGE_MS)
        refined = team.tile("refined from #2")
        expect(refined).to_have_count(1, timeout=UI_MS)
    except AssertionError as exc:
        raise team.missing("refined image", exc) from exc
    refined_no = int(refined.get_attribute("data-number") or 0)
    assert refined_no == 5, "drafts are #1-#4, so the refined image is #5"
    refined_w, refined_h = team.natural_size(refined)
    assert refined_w > draft_w and refined_h > draft_h, (
        f"refined {refined_w}x{refined_h} is not larger than the drafts' {draft_w}x{draft_h}"
    )
    team.shot("refined-editing")

    # ana repaints a box of the refined image: a new image of the same size
    team.act_as("ana")
    box = f"{refined_w // 4},{refined_h // 4},{refined_w // 2},{refined_h // 2}"
    team.type_command(f"/inpaint {refined_no} a red door --box {box}")
    try:
        inpainted = team.tile(f"inpainted from #{refined_no}")
        expect(inpainted).to_have_count(1, timeout=STAGE_MS)
        expect(team.stage()).to_have_text("editing", timeout=UI_MS)
    except AssertionError as exc:
        raise team.missing("inpainted image", exc) from exc
    inpainted_no = int(inpainted.get_attribute("data-number") or 0)
    assert inpainted_no == refined_no + 1
    assert team.natural_size(inpainted) == (refined_w, refined_h)
    team.shot("inpainted")

    # the Upscale x4 button under the inpainted image delivers it at four times the size
    upscale = inpainted.locator(f'.act[data-action$=":{inpainted_no}:4"]')
    expect(upscale).to_have_text(f"Upscale {inpainted_no} ×4")
    upscale.click()
    try:
        expect(team.stage()).to_have_text("done", timeout=STAGE_MS)
        delivered = page.locator(".msg.grid").filter(has_text="Delivered #").locator(".tile")
        expect(delivered).to_have_count(1, timeout=UI_MS)
    except AssertionError as exc:
        raise team.missing("upscaled image", exc) from exc
    expect(delivered.locator(".tile-caption")).to_contain_text(f"upscaled from #{inpainted_no}")
    assert team.natural_size(delivered) == (4 * refined_w, 4 * refined_h)
    expect(page.locator(".msg.grid").filter(has_text="Delivered #")).to_contain_text(
        f"({4 * refined_w}x{4 * refined_h})"
    )
    team.shot("delivered-done")

    # the thread in the sidebar shows the campaign as done too
    expect(page.locator(".thread-link.active .stage")).to_have_text("done", timeout=UI_MS)
    assert "Traceback" not in up.output(), up.output()[-4000:]
    context.close()
