"""The playground page in real headless Chromium, served by the real app over the real service and Redis."""

from __future__ import annotations

import asyncio
import io
import re
import zipfile
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import redis.asyncio as aioredis
from PIL import Image
from playwright.async_api import Browser, Page, async_playwright, expect

from engine.api import Job, Progress
from tests.web.web_stack import Stack, make_stack

CHROMIUM = "/usr/bin/chromium"
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]
SHOTS = Path(__file__).resolve().parents[2] / "test-artifacts"

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(
        not Path(CHROMIUM).exists(), reason=f"{CHROMIUM} is not installed (apt-get install chromium)"
    ),
]


@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    async with async_playwright() as pw:
        b = await pw.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        try:
            yield b
        finally:
            await b.close()


@pytest.fixture
async def served(redis: aioredis.Redis, tmp_data_dir: Path) -> AsyncIterator[Stack]:
    stack = make_stack(redis, tmp_data_dir)
    await stack.web.start()
    try:
        yield stack
    finally:
        await stack.web.stop()


async def new_page(browser: Browser, url: str) -> Page:
    context = await browser.new_context(viewport={"width": 1480, "height": 940})
    page = await context.new_page()
    await page.goto(url)
    return page


async def type_command(page: Page, text: str) -> None:
    await page.locator("#command").fill(text)
    await page.locator("#command").press("Enter")


async def act_as(page: Page, user: str) -> None:
    await page.locator(f'.user-btn[data-user="{user}"]').click()
    await expect(page.locator(f'.user-btn[data-user="{user}"]')).to_have_attribute("aria-checked", "true")


async def test_a_team_drafts_and_votes_in_the_playground(browser: Browser, served: Stack) -> None:
    SHOTS.mkdir(exist_ok=True)
    page = await new_page(browser, served.web.url)
    await expect(page.locator("#channels")).to_contain_text("general")
    await expect(page.locator("#channels")).to_contain_text("marketing")
    await expect(page.locator(".empty h3")).to_have_text("Run an image campaign with your team")
    await expect(page.locator("#conn")).to_have_text("live")
    await act_as(page, "ana")

    # a bad command: the error is shown to ana only
    await type_command(page, "/draft a fox --n 500")
    error = page.locator(".msg.reply")
    await expect(error).to_have_count(1)
    await expect(error).to_contain_text("--n")
    await expect(error).to_contain_text("only visible to you")
    await page.screenshot(path=str(SHOTS / "web-error-for-ana.png"))
    await act_as(page, "ben")
    await expect(page.locator(".msg.reply")).to_have_count(0)
    await expect(page.locator(".empty")).to_be_visible()
    await act_as(page, "ana")
    await expect(page.locator(".msg.reply")).to_have_count(1)

    # a good /draft opens a thread and the page goes there
    await type_command(page, "/draft a red fox in fresh snow, watercolor --n 4")
    await expect(page).to_have_url(re.compile(r"#/general/t[0-9a-f]+$"))
    thread_id = page.url.rsplit("/", 1)[1]
    link = page.locator(f'.thread-link[data-thread="{thread_id}"]')
    await expect(link).to_contain_text("a red fox in fresh snow")
    await expect(page.locator("#status-bar")).to_be_visible()
    await expect(page.locator("#crumb-stage")).to_have_text("drafting")

    # engine progress edits the one status line in place, live
    (job,) = await served.jobs()
    progress = Progress(job_id=job.job_id, campaign_id=job.campaign_id, step=3, total=8)
    await served.service.relay_progress(progress)
    await expect(page.locator("#status-text")).to_contain_text("step 3/8")
    await expect(page.locator(".msg.status")).to_have_count(1)
    await expect(page.locator(".msg.status")).to_contain_text("(edited)")

    # chloe watches the same thread from another browser
    other = await new_page(browser, served.web.url + f"#/general/{thread_id}")
    await act_as(other, "chloe")
    await expect(other.locator("#crumb-thread")).to_have_text("a red fox in fresh snow, watercolor")

    # the engine delivers: both pages get the grid live
    await served.deliver_all()
    for p in (page, other):
        await expect(p.locator(".msg.grid .tile")).to_have_count(4)
        await expect(p.locator(".msg.grid .tile-num").first).to_contain_text("#1")
    await page.wait_for_function(
        "() => [...document.querySelectorAll('.tile img')].every(i => i.complete && i.naturalWidth > 0)"
    )

    # ben votes for #2; chloe's page shows the count, not as her vote
    await act_as(page, "ben")
    vote = page.locator('.reaction[data-emoji="2️⃣"]')
    await vote.click()
    await expect(vote).to_have_class(re.compile(r"\bmine\b"))
    await expect(vote.locator(".count")).to_have_text("1")
    theirs = other.locator('.reaction[data-emoji="2️⃣"]')
    await expect(theirs.locator(".count")).to_have_text("1")
    await expect(theirs).not_to_have_class(re.compile(r"\bmine\b"))
    await expect(other.locator(".rounds")).to_contain_text("#2: 1")

    # chloe votes too and then takes it back
    await theirs.click()
    await expect(vote.locator(".count")).to_have_text("2")
    await theirs.click()
    await expect(vote.locator(".count")).to_have_text("1")
    await expect(theirs).not_to_have_class(re.compile(r"\bmine\b"))

    # a quick double click is a vote and its undo, applied in order: the page ends as the votes do
    answered: list[str] = []
    other.on("response", lambda r: answered.append(r.url) if r.url.endswith("/api/react") else None)
    await theirs.dblclick()
    for _ in range(200):
        if len(answered) >= 2:
            break
        await asyncio.sleep(0.05)
    assert len(answered) == 2, answered
    tally = await served.service.tally(job.campaign_id, 1)
    assert {n: [u for u, _ in voters] for n, voters in tally.items()} == {2: ["ben"]}
    await expect(theirs.locator(".count")).to_have_text("1")
    await expect(theirs).not_to_have_class(re.compile(r"\bmine\b"))

    # the campaign panel: stage, lineage, ledger; the dashboard: lanes
    await expect(page.locator("#crumb-stage")).to_have_text("voting")
    await expect(page.locator(".tree .node")).to_have_count(4)
    await expect(page.locator('[data-testid="ledger"]')).not_to_be_empty()
    await expect(page.locator('.lane[data-lane="interactive"]')).to_be_visible()
    await page.screenshot(path=str(SHOTS / "web-playground.png"))

    # a button runs its action: a variation is queued and the status line says so
    jobs_before = len(await served.jobs())
    await page.locator('.tile[data-number="1"] .act[data-action^="dl:vary:"]').click()
    await expect(page.locator("#log")).to_contain_text("runs beside round 1's vote, which stays open")
    await expect(page.locator("#crumb-stage")).to_have_text("voting")  # the vote goes on beside it
    assert len(await served.jobs()) == jobs_before + 1


async def test_a_token_protected_playground_works_after_opening_it_with_the_token(
    browser: Browser, redis: aioredis.Redis, tmp_data_dir: Path
) -> None:
    stack = make_stack(redis, tmp_data_dir, host="127.0.0.1", token="letmein")
    await stack.web.start()
    try:
        page = await new_page(browser, stack.web.url)
        await expect(page.locator("body")).to_contain_text("needs its token")
        await page.goto(stack.web.url + "?token=letmein")
        await expect(page).to_have_url(re.compile(r"/(#.*)?$"))
        await expect(page.locator("#channels")).to_contain_text("marketing")
        await type_command(page, "/draft a kite --n 2")
        await expect(page).to_have_url(re.compile(r"#/general/t[0-9a-f]+$"))
        await expect(page.locator("#status-bar")).to_be_visible()
        await expect(page.locator(".msg.user")).to_contain_text("/draft a kite")

        await page.locator("#help-link").click()
        await expect(page.locator("#help-dialog")).to_be_visible()
        await expect(page.locator("#help-text")).to_contain_text("/refine")
        SHOTS.mkdir(exist_ok=True)
        await page.screenshot(path=str(SHOTS / "web-help.png"))
    finally:
        await stack.web.stop()


async def run_command(page: Page, text: str) -> None:
    """Type a command and wait until the bot has taken it (the composer empties on its answer)."""
    await type_command(page, text)
    await expect(page.locator("#command")).to_have_value("")


async def queued(stack: Stack, count: int) -> list[Job]:
    """The jobs queued so far, once there are ``count`` (a command's effects may finish after its answer)."""
    for _ in range(200):
        jobs = await stack.jobs()
        if len(jobs) >= count:
            return jobs
        await asyncio.sleep(0.05)
    raise AssertionError(f"expected {count} queued jobs, found {len(await stack.jobs())}")


async def tile_width(page: Page, selector: str) -> float:
    box = await page.locator(selector).bounding_box()
    assert box is not None
    return float(box["width"])


async def drag(page: Page, selector: str, start: tuple[float, float], end: tuple[float, float]) -> None:
    """Press at ``start`` and release at ``end``, fractions of the element's box, in small steps."""
    box = await page.locator(selector).bounding_box()
    assert box is not None
    x0, y0 = box["x"] + box["width"] * start[0], box["y"] + box["height"] * start[1]
    x1, y1 = box["x"] + box["width"] * end[0], box["y"] + box["height"] * end[1]
    await page.mouse.move(x0, y0)
    await page.mouse.down()
    await page.mouse.move(x1, y1, steps=8)
    await page.mouse.up()


async def test_on_a_phone_the_team_sees_commands_enlarges_varies_a_region_and_gets_the_delivery(
    browser: Browser, served: Stack
) -> None:
    SHOTS.mkdir(exist_ok=True)
    context = await browser.new_context(viewport={"width": 390, "height": 844})
    page = await context.new_page()
    await page.goto(served.web.url)
    await expect(page.locator("#conn")).to_have_text("live")

    # the channel list is folded away behind a button; nothing is wider than the screen
    await expect(page.locator("#channels")).to_be_hidden()
    await expect(page.locator("#nav-toggle")).to_be_visible()
    assert await page.evaluate("() => document.scrollingElement.scrollWidth") <= 390
    assert await tile_width(page, ".composer-row") >= 370
    assert await tile_width(page, "#command") >= 220
    await page.locator("#nav-toggle").click()
    await expect(page.locator("#channels")).to_be_in_viewport(ratio=1)
    await page.wait_for_timeout(300)  # the slide-in
    await page.screenshot(path=str(SHOTS / "web-phone-channels.png"))
    await page.locator('.channel-link[data-channel="marketing"]').click()
    await expect(page.locator("#channels")).to_be_hidden()
    await expect(page.locator("#crumb-channel")).to_have_text("#marketing")
    await page.locator("#nav-toggle").click()
    await page.locator('.channel-link[data-channel="general"]').click()
    await expect(page.locator("#crumb-channel")).to_have_text("#general")

    # ana's /draft is shown to the team; its thread opens with it
    await act_as(page, "ana")
    await run_command(page, "/draft a lighthouse at dusk --n 4")
    await expect(page).to_have_url(re.compile(r"#/general/t[0-9a-f]+$"))
    typed = page.locator(".msg.user")
    await expect(typed).to_have_count(1)
    await expect(typed).to_contain_text("used /draft a lighthouse at dusk --n 4")
    await expect(typed.locator(".msg-flag")).to_have_count(0)
    await act_as(page, "ben")
    await expect(page.locator(".msg.user")).to_contain_text("ana")
    await act_as(page, "ana")

    await served.deliver_all()
    await expect(page.locator(".msg.grid .tile")).to_have_count(4)
    await page.wait_for_function(
        "() => [...document.querySelectorAll('.tile img')].every(i => i.complete && i.naturalWidth > 0)"
    )
    assert await page.evaluate("() => document.scrollingElement.scrollWidth") <= 390

    # a command typed in the thread reads above the bot's answer to it
    await run_command(page, "/status")
    await expect(page.locator(".msg.reply")).to_have_count(1)
    kinds = await page.locator("#log .msg").evaluate_all("ms => ms.map(m => m.dataset.kind)")
    assert kinds[-2:] == ["user", "reply"], kinds

    # the lightbox shows the image larger than its tile, with a download of the file
    shown = await tile_width(page, '.tile[data-number="1"] img')
    await page.locator('.tile[data-number="1"] img').click()
    await expect(page.locator("#lightbox")).to_be_visible()
    await expect(page.locator("#lightbox")).to_have_attribute("data-ready", "1")
    assert await tile_width(page, "#lightbox-img") > shown
    download = page.locator("#lightbox-download")
    await expect(download).to_have_attribute("download", "draftloop-1.png")
    href = await download.get_attribute("href")
    assert href is not None and href.endswith("?name=draftloop-1.png")
    answer = await page.request.get(served.web.url.rstrip("/") + href)
    assert answer.status == 200 and answer.headers["content-disposition"].startswith("attachment")
    await page.locator("#lightbox .close").click()

    # #1 is picked and refined (#5): a box dragged on it becomes an /inpaint of that box, in percent
    await run_command(page, "/select 1")
    await queued(served, 2)  # the refine of #1
    await served.deliver_all()
    refined = page.locator('.tile[data-number="5"] img')
    await expect(refined).to_have_count(1)
    await refined.click()
    await expect(page.locator("#lightbox")).to_have_attribute("data-ready", "5")
    await drag(page, "#lightbox-region", (0.25, 0.25), (0.75, 0.75))
    await expect(page.locator("#region-hint")).to_contain_text(
        re.compile(r"Box [\d.]+%,[\d.]+%,[\d.]+%,[\d.]+%")
    )
    await page.locator("#region-prompt").fill("a red door")
    await page.screenshot(path=str(SHOTS / "web-phone-vary-region.png"))
    await page.locator("#region-send").click()
    await expect(page.locator("#lightbox")).to_be_hidden()
    await expect(page.locator(".msg.user").last).to_contain_text(
        re.compile(r"used /inpaint 5 a red door --box [\d.]+%,[\d.]+%,[\d.]+%,[\d.]+%")
    )
    jobs = await queued(served, 3)
    box = jobs[-1].mask.box if jobs[-1].mask is not None else None
    size = served.image_size
    assert box is not None and abs(box[0] - size // 4) <= 2 and abs(box[2] - size // 2) <= 3, box

    # brushing a mask on the inpainted image (#6) sends the mask as an attachment
    await served.deliver_all()
    await page.locator('.tile[data-number="6"] img').click()
    await expect(page.locator("#lightbox")).to_have_attribute("data-ready", "6")
    brush = page.locator('#region-form .tool[data-tool="brush"]')
    await brush.click()
    await expect(brush).to_have_attribute("aria-pressed", "true")
    await drag(page, "#lightbox-region", (0.2, 0.5), (0.8, 0.5))
    await expect(page.locator("#region-hint")).to_have_text("Brushed: say what goes there.")
    await page.locator("#region-prompt").fill("a window")
    await page.locator("#region-send").click()
    await expect(page.locator("#lightbox")).to_be_hidden()
    await expect(page.locator(".msg.user").last).to_contain_text("used /inpaint 6 a window --mask mask-6.png")
    await expect(page.locator(".msg.user").last.locator(".attachment-names")).to_contain_text("mask-6.png")
    brushed = (await queued(served, 4))[-1]
    assert brushed.mask is not None and brushed.mask.image is not None
    mask = Image.open(io.BytesIO(served.artifacts.get(brushed.mask.image))).convert("L")
    assert mask.size == (size, size)
    assert mask.getpixel((size // 2, size // 2)) == 255 and mask.getpixel((size // 2, 2)) == 0

    # /deliver posts the zip and the contact sheet, downloadable from the thread
    await served.deliver_all()
    await run_command(page, "/deliver")
    files = page.locator(".msg .files .file-link")
    await expect(files).to_have_count(2)
    await expect(files.first).to_contain_text("-finals.zip")
    zip_href = await files.first.get_attribute("href")
    assert zip_href is not None
    got = await page.request.get(served.web.url.rstrip("/") + zip_href)
    assert got.status == 200 and got.headers["content-type"] == "application/zip"
    with zipfile.ZipFile(io.BytesIO(await got.body())) as archive:
        assert "lineage.json" in archive.namelist() and "contact-sheet.png" in archive.namelist()
    assert await page.evaluate("() => document.scrollingElement.scrollWidth") <= 390
    await page.screenshot(path=str(SHOTS / "web-phone-delivery.png"), full_page=True)
    await context.close()
