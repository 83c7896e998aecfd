"""``SocketModeSender``: what Slack sends a Socket Mode app, as envelopes over the fake's WebSocket.

The payloads are the ones ``SlackSender`` posts over HTTP (a slash command's form fields, the Events API
envelope, the ``block_actions`` payload); nothing is signed, the connection is the app's own. A sent
request answers 200 when the app acknowledged its envelope, 0 when it never did.
"""

from __future__ import annotations

import json
from typing import Any

from tests.slack.fake_slack import FakeSlack, Sent, SlackSender


class SocketModeSender(SlackSender):
    def __init__(self, fake: FakeSlack) -> None:
        super().__init__("", response_url=fake.response_url, fake=fake)
        self.socket = fake.socket

    @staticmethod
    def _answer(acked: Any) -> Sent:
        if acked is None:
            return Sent(status=0, body="")
        return Sent(status=200, body=json.dumps(acked.payload or {}))

    async def _deliver_slash(self, form: dict[str, str], bad_signature: bool) -> Sent:
        return self._answer(await self.socket.send("slash_commands", dict(form)))

    async def _deliver_event(self, env: dict[str, Any], retry_num: int | None, bad_signature: bool) -> Sent:
        return self._answer(await self.socket.send("events_api", env))

    async def _deliver_action(self, payload: dict[str, Any]) -> Sent:
        return self._answer(await self.socket.send("interactive", payload))
