"""A bot that cannot reach Redis, or has no free connection, answers 503 with Retry-After, never 500."""

from __future__ import annotations

import json
import uuid

import pytest

from bot.availability import BUSY_TEXT, RECONNECTING_TEXT, BotBusy, BotReconnecting, BotUnavailable
from tests.web.web_stack import Client, Stack

HEADERS = {"X-Draftloop-Client": "test", "Content-Type": "application/json"}


@pytest.mark.parametrize(("error", "text"), [(BotReconnecting(), RECONNECTING_TEXT), (BotBusy(), BUSY_TEXT)])
async def test_an_unavailable_bot_answers_503_with_retry_after(
    stack: Stack, client: Client, monkeypatch: pytest.MonkeyPatch, error: BotUnavailable, text: str
) -> None:
    async def unavailable(*args: object, **kwargs: object) -> list[str]:
        raise error

    monkeypatch.setattr(stack.service, "handle_text", unavailable)
    body = {"user": "ana", "channel_id": "general", "text": "/draft a red fox --n 1"}
    resp = await client.post(
        "/api/send", data=json.dumps(body), headers={**HEADERS, "X-Request-Id": uuid.uuid4().hex}
    )
    assert resp.status == 503
    assert int(resp.headers["Retry-After"]) >= 1
    assert (await resp.json())["error"] == text
