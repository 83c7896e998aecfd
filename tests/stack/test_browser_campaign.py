"""The README's walk-through in the playground served by `draftloop up`, clicked and typed in Chromium.

Three people (ana, ben and chloe, through the page's user switcher) draft 30 images, vote for five
winners across the grids, vary one, repaint a box dragged on the enlarged image, zoom out, upscale and
take the delivery zip, every image made by the real engine worker. The commands are README.md's, as
written there (``README_COMMANDS``), so the README and this test change together.
"""

from __future__ import annotations

import io
import json
import re
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from PIL import Image
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
ROOT = Path(__file__).resolve().parents[2]
SHOTS = ROOT / "test-artifacts" / "browser-campaign"
KEYCAPS = ("1️⃣", "2️⃣", "3️⃣", "4️⃣", "5️⃣", "6️⃣", "7️⃣", "8️⃣", "9️⃣", "🔟")
DRAFT = "/draft a lighthouse at dusk, watercolor --n 30 --top 5 --ar 3:2 --no text --vote 10m --quorum 3"
README_COMMANDS = (
    DRAFT,
    "/vary 31 strong",
    "/select 40",
    "/inpaint 66 a red door --box 25%,40%,30%,40%",
    "/outpaint 67 --zoom 1.5",
    "/upscale 68 4",
    "/deliver",
    "/cost",
)
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

    def grid_with(self, number: int) -> Locator:
        """The voting grid (a message of up to ten images) that shows candidate ``number``."""
        return self.page.locator(".msg.grid").filter(has=self.page.locator(f'.tile[data-number="{number}"]'))

    def vote_for(self, number: int, expect_count: str) -> None:
        """Click the number reaction under ``number``'s grid (#12 is 2️⃣ on the second grid of ten)."""
        grid = self.grid_with(number)
        reaction = grid.locator(f'.reaction[data-emoji="{KEYCAPS[(number - 1) % 10]}"]')
        reaction.click()
        expect(reaction).to_have_class(re.compile(r"\bmine\b"), timeout=UI_MS)
        expect(reaction.locator(".count")).to_have_text(expect_count, timeout=UI_MS)

    def vote(self, emoji: str, expect_count: str) -> None:
        reaction = self.page.locator(f'.msg.grid .reaction[data-emoji="{emoji}"]')
        reaction.click()
        expect(reaction).to_have_class(re.compile(r"\bmine\b"), timeout=UI_MS)
        expect(reaction.locator(".count")).to_have_text(expect_count, timeout=UI_MS)

    def missing(self, what: str, exc: AssertionError) -> AssertionError:
        """A failure that says which stage stopped, with a screenshot and the end of the up log."""
        self.shot(f"{what.replace(' ', '-')}-missing")
        return AssertionError(f"the {what} never showed: {exc}\n--- up log ---\n{self.up.output()[-4000:]}")


def test_the_readme_commands_are_the_ones_this_test_types() -> None:
    readme = (ROOT / "README.md").read_text()
    loop = readme.split("## The loop, in the playground", 1)[1].split("\n## ", 1)[0]
    for command in README_COMMANDS:
        assert f"`{command}`" in loop.replace("\n   ", " "), f"README.md no longer says `{command}`"


def test_a_team_runs_the_readme_loop_in_the_playground(up: UpProcess, browser: Browser) -> None:
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

    # 1. ana drafts 30: the thread opens with her command, shown to the team, and three grids of ten arrive
    team.type_command(DRAFT)
    expect(page).to_have_url(re.compile(r"#/general/t[0-9a-f]+$"))
    expect(page.locator("#crumb-thread")).to_have_text("a lighthouse at dusk, watercolor")
    expect(page.locator(".msg.user").first).to_contain_text(f"used {DRAFT}")
    team.shot("thread-opened")
    try:
        expect(page.locator('.tile[data-number="30"]')).to_have_count(1, timeout=STAGE_MS)
        expect(team.stage()).to_have_text("voting", timeout=UI_MS)
    except AssertionError as exc:
        raise team.missing("drafts", exc) from exc
    drafts = page.locator(".msg.grid .tile")
    expect(drafts).to_have_count(30)
    expect(page.locator(".msg.grid")).to_have_count(3)
    draft_sizes = {team.natural_size(drafts.nth(i)) for i in (0, 14, 29)}
    assert len(draft_sizes) == 1, f"drafts of one campaign differ in size: {draft_sizes}"
    ((draft_w, draft_h),) = draft_sizes
    assert draft_w > 0 and draft_h > 0 and draft_w > draft_h, "--ar 3:2 drafts are wider than tall"
    for i in (0, 9, 10, 29):
        expect(drafts.nth(i).locator(".tile-num")).to_contain_text(f"#{i + 1}")
    team.shot("drafts-voting")

    # 2. the team votes across the grids: ana for #3, #12 and #25, ben for #3, #12 and #7, then chloe for #18
    # (five numbers with votes, for the five winners)
    for number in (3, 12, 25):
        team.vote_for(number, "1")
    team.act_as("ben")
    expect(page.locator(".msg.user").first).to_contain_text("ana")  # ben sees what ana typed
    expect(team.grid_with(3).locator('.reaction[data-emoji="3️⃣"] .count')).to_have_text("1")
    team.vote_for(3, "2")
    team.vote_for(12, "2")
    team.vote_for(7, "1")
    expect(team.grid_with(1).locator('.reaction[data-emoji="1️⃣"] .count')).to_have_text("0")
    expect(page.locator(".tile[data-number='3'] .tile-votes")).to_have_text("▲ 2")
    expect(team.stage()).to_have_text("voting")
    team.shot("two-votes-for-3-and-12")
    team.act_as("chloe")
    expect(team.grid_with(12).locator('.reaction[data-emoji="2️⃣"] .count')).to_have_text("2")
    team.vote_for(18, "1")
    team.shot("chloe-votes-quorum")

    # the quorum of three closes the round; the five top-voted drafts are refined (#31-#35)
    log = page.locator("#log")
    expect(log).to_contain_text("reached its quorum", timeout=UI_MS)
    expect(log).to_contain_text("the team picked #3 (2 votes), #12 (2 votes)")
    refined = page.locator(".msg.grid .tile").filter(
        has=page.locator(".tile-caption", has_text="refined from #")
    )
    try:
        expect(refined).to_have_count(5, timeout=STAGE_MS)
    except AssertionError as exc:
        raise team.missing("refined images", exc) from exc
    numbers = sorted(int(refined.nth(i).get_attribute("data-number") or 0) for i in range(5))
    assert numbers == [31, 32, 33, 34, 35], "drafts are #1-#30, so the five refined images are #31-#35"
    refined_w, refined_h = team.natural_size(team.tile("refined from #3"))
    assert refined_w > draft_w and refined_h > draft_h, (
        f"refined {refined_w}x{refined_h} is not larger than the drafts' {draft_w}x{draft_h}"
    )
    team.shot("refined-five")

    # 3. ana varies #31 strongly: a round of its own, 30 variations (#36-#65); she picks #40, refined (#66)
    team.act_as("ana")
    team.type_command("/vary 31 strong")
    try:
        expect(page.locator('.tile[data-number="65"]')).to_have_count(1, timeout=STAGE_MS)
    except AssertionError as exc:
        raise team.missing("variations", exc) from exc
    expect(page.locator('.tile[data-number="36"] .tile-caption')).to_contain_text("#31")
    team.shot("variations")
    team.type_command("/select 40")
    try:
        picked = team.tile("refined from #40")
        expect(picked).to_have_count(1, timeout=STAGE_MS)
    except AssertionError as exc:
        raise team.missing("refined variation", exc) from exc
    assert picked.get_attribute("data-number") == "66"
    picked_w, picked_h = team.natural_size(picked)

    # 4. ana enlarges #66, drags a box on it and says what goes there: the page sends the /inpaint
    picked.locator("img").click()
    lightbox = page.locator("#lightbox")
    expect(lightbox).to_have_attribute("data-ready", "66")
    shown = page.locator("#lightbox-img").bounding_box()
    assert shown is not None and shown["width"] > 2 * picked_w, "the enlarged image is larger than the file"
    expect(page.locator("#lightbox-download")).to_have_attribute(
        "href", re.compile(r"\?name=draftloop-66\.png$")
    )
    region = page.locator("#lightbox-region").bounding_box()
    assert region is not None
    page.mouse.move(region["x"] + region["width"] * 0.25, region["y"] + region["height"] * 0.40)
    page.mouse.down()
    page.mouse.move(region["x"] + region["width"] * 0.55, region["y"] + region["height"] * 0.80, steps=8)
    page.mouse.up()
    page.locator("#region-prompt").fill("a red door")
    team.shot("vary-region-box")
    page.locator("#region-send").click()
    expect(lightbox).to_be_hidden()
    box_pct = r"2[45](\.\d)?%,(39|40)(\.\d)?%,(29|30)(\.\d)?%,(39|40)(\.\d)?%"
    expect(page.locator(".msg.user").last).to_contain_text(
        re.compile(r"used /inpaint 66 a red door --box " + box_pct)
    )
    try:
        inpainted = team.tile("inpainted from #66")
        expect(inpainted).to_have_count(1, timeout=STAGE_MS)
        expect(team.stage()).to_have_text("editing", timeout=UI_MS)
    except AssertionError as exc:
        raise team.missing("inpainted image", exc) from exc
    assert inpainted.get_attribute("data-number") == "67"
    assert team.natural_size(inpainted) == (picked_w, picked_h)
    team.shot("inpainted")

    team.type_command("/outpaint 67 --zoom 1.5")
    try:
        outpainted = team.tile("outpainted from #67")
        expect(outpainted).to_have_count(1, timeout=STAGE_MS)
    except AssertionError as exc:
        raise team.missing("outpainted image", exc) from exc
    assert outpainted.get_attribute("data-number") == "68"
    out_w, out_h = team.natural_size(outpainted)
    assert out_w > picked_w and out_h > picked_h, "zooming out makes a larger canvas"

    # 5. the final at four times the size; the button under #68 offers the same
    expect(outpainted.locator('.act[data-action$=":68:4"]')).to_have_text("Upscale 68 ×4")
    team.type_command("/upscale 68 4")
    try:
        expect(team.stage()).to_have_text("done", timeout=STAGE_MS)
        delivered = page.locator(".msg.grid").filter(has_text="Delivered #").locator(".tile")
        expect(delivered).to_have_count(1, timeout=UI_MS)
    except AssertionError as exc:
        raise team.missing("upscaled image", exc) from exc
    expect(delivered.locator(".tile-caption")).to_contain_text("upscaled from #68")
    assert team.natural_size(delivered) == (4 * out_w, 4 * out_h)
    expect(page.locator(".msg.grid").filter(has_text="Delivered #")).to_contain_text(
        f"({4 * out_w}x{4 * out_h})"
    )
    team.shot("upscaled-done")

    # /deliver: the zip of every final (their recipes inside), a contact sheet and the lineage
    team.type_command("/deliver")
    files = page.locator(".msg .files .file-link")
    try:
        expect(files).to_have_count(2, timeout=UI_MS)
    except AssertionError as exc:
        raise team.missing("delivery", exc) from exc
    expect(files.first).to_contain_text("-finals.zip")
    href = files.first.get_attribute("href")
    assert href is not None
    answer = page.request.get(up.url.rstrip("/") + href)
    assert answer.status == 200 and answer.headers["content-type"] == "application/zip"
    with zipfile.ZipFile(io.BytesIO(answer.body())) as archive:
        names = archive.namelist()
        finals = sorted(int(name[:3]) for name in names if name.endswith(".png") and name[:3].isdigit())
        assert finals == [31, 32, 33, 34, 35, 66, 67, 68, 69], names
        assert {"contact-sheet.png", "lineage.json"} <= set(names)
        lineage = json.loads(archive.read("lineage.json"))
        artifacts = {image["number"]: image["artifact"] for image in lineage["images"]}
        first = next(name for name in names if name.startswith("031-refine-"))
        recipe = Image.open(io.BytesIO(archive.read(first))).text  # type: ignore[attr-defined]
        assert recipe["draftloop:prompt"] == "a lighthouse at dusk, watercolor"
        assert recipe["draftloop:negative"] == "text" and recipe["draftloop:stage"] == "refine"
        assert recipe["draftloop:campaign"] == lineage["campaign"] and recipe["draftloop:model"] == "tiny-sd"
        assert "Steps: " in recipe["parameters"] and "Sampler: " in recipe["parameters"]
        assert "Negative prompt: text" in recipe["parameters"]
        upscaled = next(name for name in names if name.startswith("069-upscale-"))
        recipe = Image.open(io.BytesIO(archive.read(upscaled))).text  # type: ignore[attr-defined]
        assert recipe["draftloop:stage"] == "upscale" and recipe["draftloop:parent"] == artifacts[68]
        assert recipe["draftloop:prompt"] == "a red door"  # the prompt of the edit it descends from
    team.shot("delivery")

    team.type_command("/cost")
    expect(page.locator(".msg.reply").last).to_contain_text("of device time", timeout=UI_MS)

    # the thread in the sidebar shows the campaign as done too
    expect(page.locator(".thread-link.active .stage")).to_have_text("done", timeout=UI_MS)
    assert "Traceback" not in up.output(), up.output()[-4000:]
    context.close()
