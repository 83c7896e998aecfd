"""The playground page in real headless Chromium, served by the real app over the real service and Redis."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import redis.asyncio as aioredis
from playwright.async_api import Browser, Page, async_playwright, expect

from engine.api import Progress
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
    await expect(page.locator("#crumb-stage")).to_have_text("drafting")
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
