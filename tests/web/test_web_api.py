"""The playground's JSON API over the real service and a real Redis, through aiohttp's test client."""

from __future__ import annotations

import json
import re
import uuid
from typing import Any

import aiohttp
import pytest
from aiohttp.test_utils import TestClient, TestServer

from adapters.web.app import WebApp, WebConfigError, is_loopback
from adapters.web.presenter import WebPresenter
from bot.core.messages import NUMBER_EMOJI
from engine import api
from engine.api import JobKind
from tests.support.engine_standin import png
from tests.web.web_stack import Client, Stack, make_stack

HEADERS = {"X-Draftloop-Client": "test"}


async def post(
    client: Client, path: str, body: dict[str, Any], status: int = 200, event_id: str | None = None
) -> dict[str, Any]:
    headers = {**HEADERS, "X-Request-Id": event_id or uuid.uuid4().hex}
    resp = await client.post(path, json=body, headers=headers)
    data = await resp.json()
    assert resp.status == status, data
    return dict(data)


async def send(
    client: Client,
    user: str,
    text: str,
    channel: str = "general",
    thread: str | None = None,
    event_id: str | None = None,
    approver: bool = False,
) -> dict[str, Any]:
    return await post(
        client,
        "/api/send",
        {
            "channel_id": channel,
            "thread_id": thread or "",
            "user": user,
            "text": text,
            "approver": "1" if approver else "",
        },
        event_id=event_id,
    )


async def messages(
    client: Client, user: str, channel: str = "general", thread: str | None = None
) -> list[dict[str, Any]]:
    params = {"channel_id": channel, "user": user}
    if thread:
        params["thread_id"] = thread
    resp = await client.get("/api/messages", params=params)
    assert resp.status == 200
    return list((await resp.json())["messages"])


async def start_voting(stack: Stack, client: Client, n: int = 4) -> tuple[str, dict[str, Any]]:
    """ana drafts n images, the engine delivers them; returns the thread and the voting grid."""
    sent = await send(client, "ana", f"/draft a red fox in fresh snow --n {n}")
    thread = sent["opened_thread"]
    assert thread
    await stack.deliver_all()
    grids = [m for m in await messages(client, "ben", thread=thread) if m["kind"] == "grid"]
    assert len(grids) == 1
    return thread, grids[0]


async def test_draft_in_a_channel_opens_a_thread_everyone_sees(stack: Stack, client: Client) -> None:
    sent = await send(client, "ana", "/draft a lighthouse at dawn --n 4")
    thread = sent["opened_thread"]
    assert thread is not None

    channels = (await (await client.get("/api/channels")).json())["channels"]
    general = next(c for c in channels if c["id"] == "general")
    listed = next(t for t in general["threads"] if t["id"] == thread)
    assert listed["title"] == "a lighthouse at dawn"
    assert listed["stage"] == "drafting"
    assert {c["id"] for c in channels} >= {"general", "marketing"}

    # ben sees the thread's root in the channel and the bot's status in the thread
    root = [m for m in await messages(client, "ben") if m["kind"] == "thread"]
    assert [m["link_thread"] for m in root] == [thread]
    ben_thread = await messages(client, "ben", thread=thread)
    assert any(m["kind"] == "status" for m in ben_thread)

    jobs = await stack.jobs()
    assert len(jobs) == 1 and jobs[0].kind is JobKind.DRAFT and len(jobs[0].seeds) == 4


async def test_a_bad_command_is_answered_only_to_the_sender(client: Client) -> None:
    sent = await send(client, "ana", "/draft a fox --n 500")
    assert sent["opened_thread"] is None
    assert sent["replies"] and "--n" in sent["replies"][0]

    ana = await messages(client, "ana")
    assert [m["kind"] for m in ana] == ["user", "reply"]
    assert ana[1]["text"] == sent["replies"][0]
    assert all(m["visible_to"] == "ana" for m in ana)
    assert await messages(client, "ben") == []


async def test_a_command_in_a_thread_applies_to_its_campaign(stack: Stack, client: Client) -> None:
    thread, _ = await start_voting(stack, client, n=2)
    before = len(await stack.jobs())
    await send(client, "ben", "/vary 1 strong", thread=thread)
    jobs = await stack.jobs()
    assert len(jobs) == before + 1 and jobs[-1].kind is JobKind.VARIATION

    out = await send(client, "ben", "/status", thread=thread)
    assert out["replies"]
    assert out["messages"][-1]["visible_to"] == "ben"
    assert all(m["kind"] != "reply" for m in await messages(client, "ana", thread=thread))


async def test_reactions_vote_and_show_counts(stack: Stack, client: Client) -> None:
    thread, grid = await start_voting(stack, client)
    numbers = [img["number"] for img in grid["images"]]
    assert [r["emoji"] for r in grid["reactions"]] == list(NUMBER_EMOJI[:4])
    assert all(r["users"] == [] for r in grid["reactions"])  # the bot's seeded reactions don't count

    two = NUMBER_EMOJI[1]
    for user in ("ben", "chloe"):
        out = await post(
            client,
            "/api/react",
            {
                "message_id": grid["id"],
                "emoji": two,
                "added": True,
                "user": user,
            },
        )
        assert out["ok"] and out["refusal"] is None
    campaign_id = grid["campaign_id"]
    camp = await stack.service.campaign(campaign_id)
    assert camp is not None
    assert (await stack.service.vote_counts(campaign_id, grid["round_no"]))[numbers[1]] == 2

    shown = await (await client.get(f"/api/campaign/{campaign_id}")).json()
    assert shown["votes"][str(numbers[1])] == 2
    assert shown["campaign"]["stage"] == "voting"
    assert "draft" in shown["cost_text"].lower()

    after = next(m for m in await messages(client, "ana", thread=thread) if m["id"] == grid["id"])
    assert next(r for r in after["reactions"] if r["emoji"] == two)["users"] == ["ben", "chloe"]

    out = await post(
        client,
        "/api/react",
        {
            "message_id": grid["id"],
            "emoji": two,
            "added": False,
            "user": "ben",
        },
    )
    assert next(r for r in out["reactions"] if r["emoji"] == two)["users"] == ["chloe"]
    assert (await stack.service.vote_counts(campaign_id, grid["round_no"]))[numbers[1]] == 1


async def test_react_reads_added_as_a_boolean_or_its_string_forms(stack: Stack, client: Client) -> None:
    _, grid = await start_voting(stack, client, n=2)
    campaign_id, round_no = grid["campaign_id"], grid["round_no"]
    first, second = (img["number"] for img in grid["images"])
    one, two = NUMBER_EMOJI[:2]

    async def react(emoji: str, added: Any, status: int = 200) -> dict[str, Any]:
        return await post(
            client,
            "/api/react",
            {
                "message_id": grid["id"],
                "emoji": emoji,
                "added": added,
                "user": "ben",
            },
            status=status,
        )

    async def counts() -> dict[int, int]:
        return await stack.service.vote_counts(campaign_id, round_no)

    for added, expected in (("true", 1), ("false", 0), ("1", 1), ("0", 0), (True, 1), (False, 0)):
        out = await react(one, added)
        assert out["ok"], out
        assert (await counts())[first] == expected, added
        users = next(r for r in out["reactions"] if r["emoji"] == one)["users"]
        assert users == (["ben"] if expected else [])

    await react(two, True)
    bad: Any
    for bad in ("yes", "False", "", 1, 0, None, [], {}):
        out = await react(two, bad, status=400)
        assert "added" in out["error"]
    assert await counts() == {first: 0, second: 1}


async def test_a_vote_the_round_refuses_is_taken_back_and_explained(stack: Stack, client: Client) -> None:
    thread, grid = await start_voting(stack, client, n=2)
    await send(client, "ana", f"/select {grid['images'][0]['number']}", thread=thread)  # closes the round
    out = await post(
        client,
        "/api/react",
        {
            "message_id": grid["id"],
            "emoji": NUMBER_EMOJI[1],
            "added": True,
            "user": "ben",
        },
    )
    assert not out["ok"] and out["refusal"]
    assert out["reply"]["visible_to"] == "ben"
    assert all(r["users"] == [] for r in out["reactions"])
    assert not any(m["kind"] == "reply" for m in await messages(client, "chloe", thread=thread))


async def test_buttons_run_their_action(stack: Stack, client: Client) -> None:
    _, grid = await start_voting(stack, client, n=2)
    first = grid["images"][0]
    assert first["caption"].startswith(f"#{first['number']}")
    vary = next(b for b in first["buttons"] if b["action_id"].startswith("dl:vary:"))
    assert vary["action_id"].split(":")[3] == str(first["number"])
    before = len(await stack.jobs())
    await post(
        client,
        "/api/press",
        {
            "action_id": vary["action_id"],
            "message_id": grid["id"],
            "user": "chloe",
        },
    )
    jobs = await stack.jobs()
    assert len(jobs) == before + 1 and jobs[-1].kind is JobKind.VARIATION

    out = await post(client, "/api/press", {"action_id": "nope", "user": "chloe"}, status=400)
    assert "button" in out["error"]


async def test_an_event_delivered_twice_acts_once(stack: Stack, client: Client) -> None:
    event = uuid.uuid4().hex
    first = await send(client, "ana", "/draft twin peaks --n 2", event_id=event)
    second = await send(client, "ana", "/draft twin peaks --n 2", event_id=event)
    assert second["opened_thread"] == first["opened_thread"]
    assert second.get("duplicate") is True
    assert len(await stack.jobs()) == 1
    channels = (await (await client.get("/api/channels")).json())["channels"]
    assert len(next(c for c in channels if c["id"] == "general")["threads"]) == 1


async def test_artifacts_are_served_as_images_with_cache_headers(stack: Stack, client: Client) -> None:
    _, grid = await start_voting(stack, client, n=1)
    url = grid["images"][0]["url"]
    resp = await client.get(url)
    assert resp.status == 200
    assert resp.content_type == "image/png"
    assert "immutable" in resp.headers["Cache-Control"]
    body = await resp.read()
    assert body == stack.artifacts.get(grid["images"][0]["artifact"])
    again = await client.get(url, headers={"If-None-Match": resp.headers["ETag"]})
    assert again.status == 304
    assert (await client.get("/artifacts/" + "0" * 64)).status == 404
    assert (await client.get("/artifacts/..%2Fsecret")).status == 404


async def test_attachments_reach_the_service_and_size_is_limited(redis: Any, tmp_data_dir: Any) -> None:
    small = make_stack(redis, tmp_data_dir, max_upload_bytes=64 * 1024)
    c: Client = TestClient(TestServer(small.web.app, host="127.0.0.1"))
    await c.start_server()
    try:
        ref = png(32, 32, (10, 200, 30))
        form = aiohttp.FormData()
        for k, v in {
            "channel_id": "general",
            "user": "ana",
            "text": "/draft a fox --n 2 --sref mood.png",
        }.items():
            form.add_field(k, v)
        form.add_field("files", ref, filename="mood.png", content_type="image/png")
        resp = await c.post("/api/send", data=form, headers=HEADERS)
        data = await resp.json()
        assert resp.status == 200, data
        assert data["opened_thread"]
        echo = data["messages"][0]
        assert echo["attachments"] == ["mood.png"]
        (job,) = await small.jobs()
        assert job.style_refs == [small.artifacts.put(ref)]

        big = aiohttp.FormData()
        big.add_field("channel_id", "general")
        big.add_field("user", "ana")
        big.add_field("text", "/draft a fox --sref huge.png")
        big.add_field("files", b"\0" * (65 * 1024), filename="huge.png", content_type="image/png")
        resp = await c.post("/api/send", data=big, headers=HEADERS)
        assert resp.status == 413
        assert "huge.png" in (await resp.json())["error"]
    finally:
        await c.close()


async def test_token_is_required_beyond_loopback(redis: Any, tmp_data_dir: Any) -> None:
    assert is_loopback("127.0.0.1") and is_loopback("::1") and is_loopback("localhost")
    assert not is_loopback("0.0.0.0") and not is_loopback("192.168.1.5")
    with pytest.raises(WebConfigError, match="token"):
        make_stack(redis, tmp_data_dir, host="0.0.0.0")

    guarded = make_stack(redis, tmp_data_dir, host="0.0.0.0", token="s3cret")
    c: Client = TestClient(TestServer(guarded.web.app, host="127.0.0.1"))
    await c.start_server()
    try:
        assert (await c.get("/api/channels")).status == 401
        assert (await c.get("/api/channels", headers={"Authorization": "Bearer wrong"})).status == 401
        assert (await c.get("/api/channels", headers={"Authorization": "Bearer s3cret"})).status == 200
        assert (await c.get("/")).status == 401
        assert (await c.get("/?token=wrong", allow_redirects=False)).status == 401
        first = await c.get("/?token=s3cret", allow_redirects=False)
        assert first.status == 302 and first.headers["Location"] == "/"
        # the cookie set on first load is enough from then on
        assert (await c.get("/api/channels")).status == 200
        page = await c.get("/")
        assert page.status == 200 and "draftloop" in await page.text()
    finally:
        await c.close()


async def test_posts_need_the_client_header(client: Client) -> None:
    resp = await client.post("/api/send", json={"channel_id": "general", "user": "ana", "text": "/status"})
    assert resp.status == 403


async def test_server_sent_events_carry_public_posts_not_others_errors(stack: Stack, client: Client) -> None:
    resp = await client.get("/api/events", params={"user": "ben"})
    assert resp.headers["Content-Type"].startswith("text/event-stream")

    async def next_event() -> tuple[str, dict[str, Any]]:
        event = ""
        while True:
            line = (await resp.content.readline()).decode().rstrip("\n")
            if line.startswith("event: "):
                event = line[7:]
            elif line.startswith("data: ") and event != "hello":
                return event, json.loads(line[6:])

    await send(client, "ana", "/draft a fox --n 999")  # an error only ana sees
    sent = await send(client, "ana", "/draft a fox --n 2")
    kind, data = await next_event()  # the command, shown to the team before the bot acts on it
    assert kind == "message" and data["kind"] == "user" and data["author"] == "ana"
    assert data["text"] == "/draft a fox --n 2" and data["visible_to"] is None
    kind, data = await next_event()
    assert kind == "thread" and data["id"] == sent["opened_thread"]
    kind, data = await next_event()
    assert kind == "message" and data["kind"] == "thread" and data["author"] == "ana"
    resp.close()


async def test_history_survives_a_restart(stack: Stack, client: Client) -> None:
    sent = await send(client, "ana", "/draft a paper boat --n 2")
    await stack.deliver_all()
    stack.presenter.save()
    again = WebPresenter(state_path=stack.presenter.state_path)
    thread = again.thread(sent["opened_thread"])
    assert thread is not None and thread.title == "a paper boat"
    kinds = [m.kind for m in again.messages("general", thread.id, "ben")]
    assert "grid" in kinds and "status" in kinds


async def test_stats_and_help(client: Client) -> None:
    stats = (await (await client.get("/api/stats")).json())["stats"]
    assert set(stats["lanes"]) == {"interactive", "scheduled"}
    text = (await (await client.get("/api/help")).json())["text"]
    assert "/draft" in text


async def test_metrics_show_queue_depth_and_engine_counters(stack: Stack, client: Client) -> None:
    await send(client, "ana", "/draft a fox --n 2")
    await stack.redis.hset(api.STATS_KEY, mapping={"jobs": 7, "images": 12, "device_ms": 2500})
    resp = await client.get("/metrics")
    assert resp.status == 200 and resp.content_type == "text/plain"
    text = await resp.text()
    assert 'draftloop_queue_waiting{lane="interactive"} 1' in text
    assert 'draftloop_queue_waiting{lane="scheduled"} 0' in text
    assert "draftloop_jobs_total 7" in text and "draftloop_images_total 12" in text
    assert "draftloop_device_seconds_total 2.5" in text
    assert "# TYPE draftloop_jobs_total counter" in text


async def test_the_page_and_its_files_are_served(client: Client) -> None:
    page = await client.get("/")
    assert page.status == 200 and page.content_type == "text/html"
    assert '<script type="module" src="/static/app.js">' in await page.text()
    for name, kind in (("app.js", "javascript"), ("style.css", "text/css")):
        resp = await client.get(f"/static/{name}")
        assert resp.status == 200 and kind in resp.content_type
    # app.js and the modules it imports, each served as JavaScript
    app_js = await (await client.get("/static/app.js")).text()
    imported = set(re.findall(r'from "\./([a-z]+\.js)"', app_js))
    assert {"api.js", "composer.js", "render.js", "sidebar.js", "lightbox.js", "live.js"} <= imported
    for name in imported:
        resp = await client.get(f"/static/{name}")
        assert resp.status == 200 and "javascript" in resp.content_type, name


def test_refuses_to_build_without_token_off_loopback() -> None:
    presenter = WebPresenter()
    with pytest.raises(WebConfigError, match="DRAFTLOOP_WEB_TOKEN"):
        WebApp(object(), presenter, host="10.0.0.2")  # type: ignore[arg-type]


async def test_the_approver_toggle_lets_a_teammate_close_the_vote(stack: Stack, client: Client) -> None:
    thread, grid = await start_voting(stack, client, n=2)
    first = grid["images"][0]["number"]
    refused = await send(client, "ben", f"/select {first}", thread=thread)
    assert refused["replies"]
    camp = await stack.service.campaign(grid["campaign_id"])
    assert camp is not None and camp.stage.value == "voting"

    await send(client, "ben", f"/select {first}", thread=thread, approver=True)
    camp = await stack.service.campaign(grid["campaign_id"])
    assert camp is not None and camp.stage.value != "voting"
    assert camp.selected == [first]


def test_an_unreadable_history_file_is_set_aside(tmp_path: Any) -> None:
    path = tmp_path / "playground.json"
    path.write_text("{not json")
    presenter = WebPresenter(state_path=path)
    assert presenter.state.threads == {}
    assert set(presenter.state.channels) >= {"general", "marketing"}
    assert (tmp_path / "playground.unreadable.json").read_text() == "{not json"


async def test_a_file_is_served_as_a_download_under_a_safe_name(stack: Stack, client: Client) -> None:
    zipped = b"PK\x03\x04" + bytes(200)
    key = stack.artifacts.put(zipped)
    resp = await client.get(f"/artifacts/{key}", params={"name": '../fox "finals".zip'})
    assert resp.status == 200 and await resp.read() == zipped
    assert resp.headers["Content-Type"] == "application/zip"
    assert resp.headers["Content-Disposition"] == 'attachment; filename="fox-finals-.zip"'
    plain = await client.get(f"/artifacts/{key}")  # a zip by its key alone still downloads as a zip
    assert plain.headers["Content-Disposition"] == f'attachment; filename="{key[:12]}.zip"'
