"""Slack's side of draftloop: a slack-bolt ``AsyncApp``, over Socket Mode or HTTP.

Wiring::

    presenter = SlackPresenter(bot_token, api_url=slack_api_url)
    service = CampaignService(..., presenters={"slack": presenter, ...})
    slack = SlackAdapter(bot_token, signing_secret, service, presenter, app_token=app_token,
                         api_url=slack_api_url, approver_user_ids=approvers)
    await slack.start(host, port)
    await slack.stop()

With an app-level token (``xapp-``, scope ``connections:write``) the adapter runs in Socket Mode:
bolt's ``AsyncSocketModeHandler`` opens a WebSocket from ``apps.connections.open`` and acknowledges each
envelope; no public URL, no listening port and no signing secret are needed. Without one it serves
HTTP: ``slack.app`` is the aiohttp application (``start`` serves it on ``host:port``), one URL takes
Slack's events, slash commands and interactivity, and bolt verifies every request's signature (v0 HMAC
of the signing secret, stale timestamps refused) and answers a bad one with 401. Both modes run the
same listeners.

What people do, and what the bot calls (``adapters.slack.listeners``):

- ``/draft <prompt> [flags]`` → ``handle_text("draft …")``; ``/dl <command …>`` (``/dl vary 3 strong
  --campaign a1b2c3``) → ``handle_text`` for any command, with no thread (slash commands can't be used
  in threads): the core picks the campaign. Both are acknowledged at once; the work runs in the
  background and the answers for the user come back ephemerally in the channel where it was typed.
- In a campaign thread, a message that starts with a command word (``vary 3``, ``select 2``) or that
  mentions the bot is a command; so is a message mentioning the bot anywhere. Its files are fetched
  only from Slack's file hosts (plus the host of a configured API base), with the bot token and a byte
  limit (``adapters.slack.files``).
- ``reaction_added`` / ``reaction_removed`` → ``handle_reaction``; the bot's own reactions never count.
  A refused vote is explained to the voter with ``chat.postEphemeral`` in the campaign thread (an app
  cannot remove another person's reaction, so the text asks them to).
- Buttons (``block_actions``) → ``handle_action`` with the ``dl:`` action id the button carries.

The service handles each event once, by the event's own identity, so a retried delivery
(``X-Slack-Retry-Num``) or one that two replicas receive counts once.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Collection, Coroutine
from typing import Any

from aiohttp import web
from slack_bolt.adapter.aiohttp import to_aiohttp_response, to_bolt_request
from slack_bolt.adapter.socket_mode.aiohttp import AsyncSocketModeHandler
from slack_bolt.async_app import AsyncApp
from slack_sdk.errors import SlackApiError

from adapters.slack.files import SlackFiles
from adapters.slack.listeners import HANDLED_SUBTYPES, SlackListeners
from adapters.slack.presenter import SlackPresenter, make_client
from bot.service import CampaignService
from bot.usecases import uploads

log = logging.getLogger(__name__)

DEFAULT_PATH = "/slack/events"
DEFAULT_PORT = 3000
CONNECT_SECONDS = 30.0


class SlackConfigError(ValueError):
    """The adapter cannot start with these settings (the message says what to change)."""


class SlackAdapter:
    """Serves Slack's requests through bolt and turns them into ``CampaignService`` calls."""

    def __init__(
        self,
        bot_token: str,
        signing_secret: str | None,
        service: CampaignService,
        presenter: SlackPresenter,
        *,
        app_token: str | None = None,
        api_url: str | None = None,
        approver_user_ids: Collection[str] = (),
        path: str = DEFAULT_PATH,
        file_hosts: Collection[str] = (),
        max_file_bytes: int = uploads.MAX_BYTES,
        draft_command: str = "/draft",
        catchall_command: str = "/dl",
    ) -> None:
        if not bot_token:
            raise SlackConfigError("the Slack adapter needs a bot token: set SLACK_BOT_TOKEN")
        if app_token is not None and not app_token.startswith("xapp-"):
            raise SlackConfigError("SLACK_APP_TOKEN must be an app-level token (xapp-…) for Socket Mode")
        if not app_token and not signing_secret:
            raise SlackConfigError(
                "the Slack adapter needs an app-level token for Socket Mode (SLACK_APP_TOKEN) "
                "or, to serve HTTP, the app's signing secret (SLACK_SIGNING_SECRET)"
            )
        self.app_token = app_token or None
        self.service = service
        self.presenter = presenter
        if presenter.read_artifact is None:
            presenter.attach(service.read_artifact)
        self.client = make_client(bot_token, api_url)
        self.files = SlackFiles(bot_token, api_url=api_url, extra_hosts=file_hosts, max_bytes=max_file_bytes)
        self.listeners = SlackListeners(
            service,
            presenter,
            self.client,
            self.files,
            approver_user_ids=approver_user_ids,
            draft_command=draft_command,
        )
        self.path = path
        self.draft_command = draft_command
        self.catchall_command = catchall_command
        self._tasks: set[asyncio.Task[None]] = set()
        self._runner: web.AppRunner | None = None
        self._socket: AsyncSocketModeHandler | None = None
        self.port: int | None = None
        # process_before_response: each listener only acks and schedules its work, so the HTTP answer
        # leaves once the work is scheduled, well within Slack's 3 seconds.
        self.bolt = AsyncApp(
            client=self.client,
            signing_secret=signing_secret or "",
            process_before_response=True,
            logger=logging.getLogger("adapters.slack.bolt"),
        )
        self._register()
        self.app = web.Application()
        self.app.router.add_post(path, self.handle)

    @property
    def socket_mode(self) -> bool:
        return self.app_token is not None

    # --- HTTP -----------------------------------------------------------------------------------------

    async def handle(self, request: web.Request) -> web.Response:
        bolt_request = await to_bolt_request(request)
        bolt_response = await self.bolt.async_dispatch(bolt_request)
        return await to_aiohttp_response(bolt_response)

    async def start(self, host: str = "127.0.0.1", port: int = DEFAULT_PORT) -> None:
        """Connect over Socket Mode (with an app token; ``host`` and ``port`` are unused) or serve HTTP."""
        if self.app_token is not None:
            await self._connect(self.app_token)
            return
        self._runner = web.AppRunner(self.app)
        await self._runner.setup()
        site = web.TCPSite(self._runner, host, port)
        await site.start()
        addresses = self._runner.addresses
        self.port = int(addresses[0][1]) if addresses else port
        log.info("slack adapter listening on %s:%s%s", host, self.port, self.path)

    async def _connect(self, app_token: str) -> None:
        handler = AsyncSocketModeHandler(
            self.bolt, app_token, logger=logging.getLogger("adapters.slack.socket")
        )
        # the first URL is asked for here so that a refused token stops the start with a reason, where
        # the handler alone would retry forever
        try:
            opened = await self.client.apps_connections_open(app_token=app_token)
        except SlackApiError as exc:
            await handler.close_async()
            raise SlackConfigError(
                f"Slack refused SLACK_APP_TOKEN for Socket Mode ({exc.response.get('error')}): "
                "use an app-level token with the connections:write scope and enable Socket Mode"
            ) from exc
        handler.client.wss_uri = str(opened["url"])
        try:
            await asyncio.wait_for(handler.connect_async(), CONNECT_SECONDS)
        except BaseException:
            await handler.close_async()
            raise
        self._socket = handler
        log.info("slack adapter connected over Socket Mode")

    async def stop(self, grace_seconds: float = 10.0) -> None:
        if self._socket is not None:
            await self._socket.close_async()
            self._socket = None
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
        await self.drain(grace_seconds)
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self.files.close()

    async def drain(self, within_seconds: float = 10.0) -> bool:
        """Wait for the work scheduled so far (and what it schedules); False when the time ran out."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + within_seconds
        while self._tasks:
            left = deadline - loop.time()
            if left <= 0:
                return False
            await asyncio.wait(set(self._tasks), timeout=left)
        return True

    def _spawn(self, work: Coroutine[Any, Any, None], what: str) -> None:
        async def run() -> None:
            try:
                await work
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("slack: handling %s failed", what)

        task = asyncio.create_task(run())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # --- bolt listeners: acknowledge, then work in the background ---------------------------------------

    def _register(self) -> None:
        app = self.bolt
        app.command(self.draft_command)(self._on_command)
        if self.catchall_command != self.draft_command:
            app.command(self.catchall_command)(self._on_command)
        app.event("message")(self._on_message)
        app.event("app_mention")(self._on_message)
        app.event("reaction_added")(self._on_reaction)
        app.event("reaction_removed")(self._on_reaction)
        app.action(re.compile(r"^dl:"))(self._on_action)

    async def _on_command(self, ack: Any, command: dict[str, Any], context: Any, respond: Any) -> None:
        await ack()
        self._spawn(self.listeners.command(command, context.get("bot_user_id"), respond), "a slash command")

    async def _on_message(self, ack: Any, event: dict[str, Any], context: Any) -> None:
        await ack()
        if event.get("subtype") not in HANDLED_SUBTYPES or event.get("bot_id"):
            return
        self._spawn(self.listeners.message(event, context.get("bot_user_id")), "a message")

    async def _on_reaction(self, ack: Any, event: dict[str, Any], context: Any) -> None:
        await ack()
        self._spawn(self.listeners.reaction(event, context.get("bot_user_id")), "a reaction")

    async def _on_action(self, ack: Any, body: dict[str, Any], action: dict[str, Any]) -> None:
        await ack()
        self._spawn(self.listeners.action(body, action), "a button")


__all__ = ["SlackAdapter", "SlackConfigError"]
