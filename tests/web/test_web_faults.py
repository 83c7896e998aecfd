"""Faults at the playground's edge: bad text, bad bodies, the history writer, votes the page must mirror."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer

from adapters.web.history import HistoryWriter, load_state
from adapters.web.parsing import clean_text
from adapters.web.presenter import WebPresenter
from bot.availability import BotReconnecting
from bot.core.messages import NUMBER_EMOJI
from tests.web.test_web_api import HEADERS, messages, post, send, start_voting
from tests.web.web_stack import Client, Stack


async def raw_post(client: Client, path: str, body: bytes, content_type: str) -> tuple[int, dict[str, Any]]:
    headers = {**HEADERS, "Content-Type": content_type, "X-Request-Id": uuid.uuid4().hex}
    resp = await client.post(path, data=body, headers=headers)
    return resp.status, dict(await resp.json())


def test_clean_text_replaces_lone_surrogates_and_drops_control_characters() -> None:
    assert clean_text("a \ud83d b") == "a \ufffd b"
    assert clean_text("a\x00b\x1b[31mc\r\nd\te") == "ab[31mc\nd\te"
    assert clean_text("fox 🦊 ✓") == "fox 🦊 ✓"
    clean_text("x \udc00 y").encode()  # encodable


async def test_a_lone_surrogate_in_a_command_is_replaced_and_history_keeps_saving(
    stack: Stack, client: Client
) -> None:
    body = (
        b'{"channel_id": "general", "user": "ana", "text": "/draft a red \\ud83d fox --n 1", "thread_id": ""}'
    )
    status, data = await raw_post(client, "/api/send", body, "application/json")
    assert status == 200, data
    thread = data["opened_thread"]
    assert thread
    assert data["messages"][0]["text"] == "/draft a red \ufffd fox --n 1"
    assert stack.presenter.thread(thread) is not None
    assert stack.presenter.thread(thread).title == "a red \ufffd fox"  # type: ignore[union-attr]
    (job,) = await stack.jobs()
    assert "\ufffd" in job.prompt

    # every listed thread is a campaign's: no empty thread was left behind
    channels = (await (await client.get("/api/channels")).json())["channels"]
    general = next(c for c in channels if c["id"] == "general")
    assert [t["id"] for t in general["threads"]] == [thread]
    assert general["threads"][0]["stage"] == "drafting"

    assert await stack.web.writer.flush() is True
    saved = load_state(stack.presenter.state_path)
    assert saved.threads[thread].title == "a red \ufffd fox"


async def test_the_history_writer_survives_any_error_says_so_once_and_keeps_saving(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "playground.json"
    presenter = WebPresenter(state_path=path)
    failures = [RuntimeError("disk on fire"), ValueError("odd"), OSError("full")]

    def flaky_write(data: bytes) -> None:
        if failures:
            raise failures.pop(0)
        presenter.write(data)

    writer = HistoryWriter(
        lambda: presenter.dirty, presenter.snapshot, flaky_write, presenter.mark_dirty, interval=0.01
    )
    presenter.ensure_channel("design")
    with caplog.at_level(logging.WARNING, logger="adapters.web.history"):
        writer.start()
        try:
            for _ in range(500):
                if path.exists():
                    break
                await asyncio.sleep(0.01)
        finally:
            await writer.stop()
    assert path.exists(), "the writer stopped saving"
    assert "design" in load_state(path).channels
    assert not failures and not presenter.dirty
    errors = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert len(errors) == 1 and "disk on fire" in errors[0].getMessage()
    assert any("saved again" in r.getMessage() for r in caplog.records)

    # a later change is saved by the same writer logic
    presenter.ensure_channel("ads")
    assert await writer.flush() is True
    assert "ads" in load_state(path).channels


async def test_a_failed_command_takes_back_the_empty_thread_it_opened(tmp_path: Path) -> None:
    presenter = WebPresenter(state_path=tmp_path / "playground.json")
    with presenter.acting("ana") as act:
        await presenter.open_thread("general", "a fox")
    (ref,) = act.opened
    assert [t.id for t in presenter.threads_in("general")] == [ref.thread_id]
    assert presenter.drop_empty_thread(ref.thread_id) is True
    assert presenter.threads_in("general") == []
    assert presenter.messages("general", None, "ana") == []  # the thread's root went with it

    kept = await presenter.open_thread("general", "a kite")
    await presenter.post_status(kept, "drafting")
    assert presenter.drop_empty_thread(kept.thread_id) is False
    assert presenter.thread(kept.thread_id) is not None


@pytest.mark.parametrize(
    ("content_type", "body"),
    [
        (
            "multipart/form-data; boundary=xyz",
            b'--xyz\r\nContent-Disposition: form-data; name="text"\r\nNo colon here\r\n\r\n'
            b"/status\r\n--xyz--\r\n",
        ),
        ("multipart/form-data; boundary=xyz", b'--xyz\r\nContent-Disposition: form-data; name="te'),
        (
            "multipart/form-data",
            b'--abc\r\nContent-Disposition: form-data; name="text"\r\n\r\nhi\r\n--abc--\r\n',
        ),
        ("multipart/form-data; boundary=xyz", b"garbage without any boundary"),
        (
            "multipart/form-data; boundary=xyz",
            b'--xyz\r\nContent-Disposition: form-data; name="text"\r\nContent-Type: text/plain; '
            b"charset=no-such-charset\r\n\r\n/status\r\n--xyz--\r\n",
        ),
        ("application/json", b"{not json"),
        ("application/json", b"[1, 2]"),
        ("application/json", b'{"text": "\xff\xfe"}'),
    ],
)
async def test_an_unreadable_body_is_a_4xx_with_a_reason(
    client: Client, content_type: str, body: bytes
) -> None:
    status, data = await raw_post(client, "/api/send", body, content_type)
    assert 400 <= status < 500, data
    assert isinstance(data["error"], str) and data["error"]


async def test_a_malformed_request_id_is_refused_with_a_reason(client: Client) -> None:
    resp = await client.post(
        "/api/send",
        json={"channel_id": "general", "user": "ana", "text": "/status"},
        headers={**HEADERS, "X-Request-Id": "not an id!"},
    )
    assert resp.status == 400
    assert "X-Request-Id" in (await resp.json())["error"]


async def react(client: Client, grid: dict[str, Any], user: str, emoji: str, added: bool) -> dict[str, Any]:
    body = {"message_id": grid["id"], "emoji": emoji, "added": added, "user": user}
    return await post(client, "/api/react", body)


async def page_voters(client: Client, grid: dict[str, Any], thread: str) -> dict[int, set[str]]:
    shown = next(m for m in await messages(client, "ana", thread=thread) if m["id"] == grid["id"])
    numbers = [img["number"] for img in grid["images"]]
    return {n: set(r["users"]) for n, r in zip(numbers, shown["reactions"], strict=False)}


async def service_voters(stack: Stack, grid: dict[str, Any]) -> dict[int, set[str]]:
    tally = await stack.service.tally(grid["campaign_id"], grid["round_no"])
    return {img["number"]: {u for u, _ in tally.get(img["number"], [])} for img in grid["images"]}


async def test_removing_a_vote_after_the_round_closed_keeps_it_on_the_page_too(
    stack: Stack, client: Client
) -> None:
    thread, grid = await start_voting(stack, client, n=2)
    second = grid["images"][1]["number"]
    two = NUMBER_EMOJI[1]
    assert (await react(client, grid, "ben", two, True))["ok"]
    await send(client, "ana", f"/select {grid['images'][0]['number']}", thread=thread)  # closes the round

    out = await react(client, grid, "ben", two, False)
    assert out["ok"] is False
    assert out["refusal"] and "closed" in out["refusal"]
    assert out["reply"]["visible_to"] == "ben"
    assert next(r for r in out["reactions"] if r["emoji"] == two)["users"] == ["ben"]
    assert (await stack.service.vote_counts(grid["campaign_id"], grid["round_no"]))[second] == 1
    assert await page_voters(client, grid, thread) == await service_voters(stack, grid)


async def test_a_refused_vote_never_shows_on_any_page(stack: Stack, client: Client) -> None:
    thread, grid = await start_voting(stack, client, n=2)
    await send(client, "ana", f"/select {grid['images'][0]['number']}", thread=thread)
    watcher = stack.presenter.hub.subscribe("chloe")
    try:
        out = await react(client, grid, "ben", NUMBER_EMOJI[0], True)
        assert out["ok"] is False and out["refusal"]
        seen = []
        while not watcher.queue.empty():
            item = watcher.queue.get_nowait()
            assert item is not None
            seen.append(item)
        assert all(event != "reactions" or '"ben"' not in payload for event, payload in seen), seen
    finally:
        stack.presenter.hub.unsubscribe(watcher)


async def test_quick_react_unreact_pairs_leave_page_and_votes_agreeing(stack: Stack, client: Client) -> None:
    thread, grid = await start_voting(stack, client, n=3)
    emojis = NUMBER_EMOJI[:3]
    for round_trip in range(4):
        pairs = []
        for user in ("ben", "chloe", "dan"):
            for emoji in emojis:
                pairs += [react(client, grid, user, emoji, True), react(client, grid, user, emoji, False)]
                if round_trip % 2:
                    pairs.append(react(client, grid, user, emoji, True))
        await asyncio.gather(*pairs)
        assert await page_voters(client, grid, thread) == await service_voters(stack, grid), round_trip

    # toggles (no "added") read the page under the lock: an even number of them changes nothing
    before = await service_voters(stack, grid)
    body = {"message_id": grid["id"], "emoji": emojis[0], "user": "ben"}
    await asyncio.gather(*(post(client, "/api/react", body) for _ in range(4)))
    assert await service_voters(stack, grid) == before
    assert await page_voters(client, grid, thread) == before


async def test_a_vote_stored_before_the_service_failed_still_shows_on_the_page(
    stack: Stack, client: Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    thread, grid = await start_voting(stack, client, n=2)
    first = grid["images"][0]["number"]
    votes = stack.service.ctx.votes
    real_tally = votes.tally
    failures = [BotReconnecting("Redis went away after the vote was stored")]

    async def failing_tally(*args: Any) -> Any:
        if failures:
            raise failures.pop()
        return await real_tally(*args)

    monkeypatch.setattr(votes, "tally", failing_tally)
    body = {"message_id": grid["id"], "emoji": NUMBER_EMOJI[0], "added": True, "user": "ben"}
    await post(client, "/api/react", body, status=503)
    assert (await service_voters(stack, grid))[first] == {"ben"}
    assert await page_voters(client, grid, thread) == await service_voters(stack, grid)


async def test_a_client_that_goes_away_mid_vote_still_finds_its_vote_on_the_page(
    stack: Stack, monkeypatch: pytest.MonkeyPatch
) -> None:
    # a server that cancels a handler whose client disconnected, as aiohttp can be configured to
    cancelling: Client = TestClient(TestServer(stack.web.app, host="127.0.0.1", handler_cancellation=True))
    await cancelling.start_server()
    try:
        thread, grid = await start_voting(stack, cancelling, n=2)
        votes = stack.service.ctx.votes
        real_tally = votes.tally
        counted, go_on = asyncio.Event(), asyncio.Event()

        async def slow_tally(*args: Any) -> Any:
            counted.set()  # the vote is stored: the service is refreshing the round's standing
            await go_on.wait()
            return await real_tally(*args)

        monkeypatch.setattr(votes, "tally", slow_tally)
        request = asyncio.create_task(react(cancelling, grid, "ben", NUMBER_EMOJI[1], True))
        await asyncio.wait_for(counted.wait(), 10)
        request.cancel()  # the client gives up and closes its connection
        with contextlib.suppress(asyncio.CancelledError):
            await request
        await asyncio.sleep(0.2)  # the server notices the disconnect
        go_on.set()

        second = grid["images"][1]["number"]
        for _ in range(100):
            if "ben" in (await page_voters(cancelling, grid, thread))[second]:
                break
            await asyncio.sleep(0.05)
        assert (await service_voters(stack, grid))[second] == {"ben"}
        assert await page_voters(cancelling, grid, thread) == await service_voters(stack, grid)
    finally:
        await cancelling.close()


async def test_a_burst_of_votes_counts_each_one_on_the_page_in_redis_and_in_the_round_standing(
    stack: Stack, client: Client
) -> None:
    thread, grid = await start_voting(stack, client, n=2)
    first = grid["images"][0]["number"]
    voters = {f"voter{i}" for i in range(150)}
    answers = await asyncio.gather(*(react(client, grid, user, NUMBER_EMOJI[0], True) for user in voters))
    assert all(a["ok"] for a in answers)
    assert (await service_voters(stack, grid))[first] == voters
    assert await page_voters(client, grid, thread) == await service_voters(stack, grid)
    campaign = await stack.service.campaign(grid["campaign_id"])
    assert campaign is not None
    (rnd,) = [r for r in campaign.rounds if r.number == grid["round_no"]]
    assert {user for user, _ in rnd.tally[first]} == voters  # the standing saw the last vote too
