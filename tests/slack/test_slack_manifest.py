"""The Slack app manifest in ops/ and the README agree with each other and with what the code uses."""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import redis.asyncio as aioredis

from adapters.slack import SlackAdapter
from tests.slack import slack_rules as rules
from tests.slack.fake_slack import FakeSlack
from tests.slack.slack_stack import make_stack
from tests.slack.test_slack_adapter import CHANNEL, start_campaign

ROOT = Path(__file__).resolve().parents[2]
MANIFEST = ROOT / "ops" / "slack-app-manifest.json"
ADAPTER = ROOT / "adapters" / "slack"
# files_upload_v2 is slack_sdk's name for the three-step upload
_SDK_CALLS = {"files_upload_v2": ("files.getUploadURLExternal", "files.completeUploadExternal")}


def manifest() -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(MANIFEST.read_text())
    return loaded


def manifest_scopes() -> set[str]:
    return set(manifest()["oauth_config"]["scopes"]["bot"])


def readme_slack_part() -> str:
    text = (ROOT / "README.md").read_text()
    start = text.index("**Slack.**")
    return text[start : text.index("\n## ", start)]


def readme_scopes() -> set[str]:
    [line] = [ln for ln in readme_slack_part().splitlines() if ln.startswith("Bot token scopes:")]
    return set(re.findall(r"`([^`]+)`", line))


def methods_the_code_calls() -> set[str]:
    called: set[str] = set()
    for source in ADAPTER.glob("*.py"):
        for name in re.findall(r"\bclient\.([a-zA-Z_0-9]+)\(", source.read_text()):
            called.update(_SDK_CALLS.get(name, (name.replace("_", "."),)))
    return called


def test_the_readme_lists_the_manifests_scopes() -> None:
    assert readme_scopes() == manifest_scopes()
    part = readme_slack_part()
    assert "ops/slack-app-manifest.json" in part and "SLACK_APP_TOKEN" in part


def test_the_manifest_covers_every_method_event_and_command_the_code_uses() -> None:
    scopes = manifest_scopes()
    called = methods_the_code_calls()
    assert {"chat.postMessage", "chat.update", "reactions.add", "files.info", "users.info"} <= called
    for method in called - {"apps.connections.open"}:  # that one takes the app-level token
        assert method in rules.METHOD_SCOPES, f"the fake does not know {method}"
        needed = rules.METHOD_SCOPES[method]
        assert needed is None or needed in scopes, f"{method} needs {needed}"
    assert rules.FILE_DOWNLOAD_SCOPE in scopes  # attachments are read from url_private

    settings = manifest()["settings"]
    events = set(settings["event_subscriptions"]["bot_events"])
    assert events == set(rules.EVENT_SCOPES)
    assert {rules.EVENT_SCOPES[e] for e in events} <= scopes
    assert settings["socket_mode_enabled"] is True and settings["interactivity"]["is_enabled"] is True

    commands = {c["command"] for c in manifest()["features"]["slash_commands"]}
    assert rules.COMMANDS_SCOPE in scopes
    defaults = SlackAdapter.__init__.__kwdefaults__ or {}
    assert commands == {defaults["draft_command"], defaults["catchall_command"]} == {"/draft", "/dl"}


@pytest.fixture
async def manifest_fake() -> AsyncIterator[FakeSlack]:
    server = await FakeSlack(scopes=manifest_scopes()).start()
    try:
        yield server
    finally:
        await server.stop()


async def test_a_campaign_with_only_the_manifests_scopes_is_never_refused(
    redis: aioredis.Redis, tmp_data_dir: Path, manifest_fake: FakeSlack
) -> None:
    stack = await make_stack(redis, tmp_data_dir, manifest_fake)
    try:
        started = await start_campaign(stack, n=2)
        assert (
            await stack.sender.reaction("one", user="U2", channel=CHANNEL, ts=started.grid.ts)
        ).status == 200
        await stack.settle()
        assert await stack.service.vote_counts(started.campaign_id, started.round_no) == {1: 1, 2: 0}
        thread = started.thread_ts
        await stack.sender.message(
            "status", user="U2", channel=CHANNEL, ts="1700006000.000001", thread_ts=thread
        )
        await stack.settle()
        assert manifest_fake.ephemerals_for("U2")
    finally:
        await stack.close()
    assert [error for _, error in manifest_fake.refused if error == "missing_scope"] == []


async def test_without_reactions_read_no_vote_arrives(redis: aioredis.Redis, tmp_data_dir: Path) -> None:
    """The scope list the README used to give: Slack never sends the votes."""
    old_list = {"chat:write", "reactions:write", "files:write", "files:read", "users:read", "commands"}
    fake = await FakeSlack(scopes=old_list).start()
    stack = await make_stack(redis, tmp_data_dir, fake)
    try:
        started = await start_campaign(stack, n=2)
        sent = await stack.sender.reaction("one", user="U2", channel=CHANNEL, ts=started.grid.ts)
        assert sent.status == 0 and "reaction_added" in sent.body
        await stack.settle()
        assert await stack.service.vote_counts(started.campaign_id, started.round_no) == {1: 0, 2: 0}
        assert rules.EVENT_SCOPES["reaction_added"] in manifest_scopes() - old_list
    finally:
        await stack.close()
        await fake.stop()
