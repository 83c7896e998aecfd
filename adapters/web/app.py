"""The web playground's HTTP side: the page, a JSON API under /api, artifacts, server-sent events.

Wiring::

    presenter = WebPresenter(state_path=data_dir / "web" / "playground.json")
    service = CampaignService(..., presenters={"web": presenter})
    app = WebApp(service, presenter, host="127.0.0.1", port=8765, token=None)
    await app.start()          # serves until
    await app.stop()

The routes live by concern: ``pages`` (the page, images), ``reading`` (read-only API, events),
``commands`` (send, press), ``reactions`` (votes); ``security`` guards them all, ``errors`` turns what goes
wrong into JSON answers, ``history`` keeps the playground's own state on disk.
"""

from __future__ import annotations

import logging

from aiohttp import web

from adapters.web.commands import CommandRoutes
from adapters.web.errors import error_middleware
from adapters.web.history import HistoryWriter
from adapters.web.pages import PageRoutes
from adapters.web.parsing import MAX_FILES
from adapters.web.presenter import WebPresenter
from adapters.web.reactions import ReactionRoutes
from adapters.web.reading import ReadingRoutes
from adapters.web.security import Access, WebConfigError, check_bind, is_loopback
from adapters.web.service_api import CampaignServiceAPI, WebContext
from bot.file_links import FileLinks

log = logging.getLogger(__name__)

DEFAULT_MAX_UPLOAD = 10 * 1024 * 1024


class WebApp:
    """The playground server. ``service`` is the campaign service; ``presenter`` the one it posts to."""

    def __init__(
        self,
        service: CampaignServiceAPI,
        presenter: WebPresenter,
        host: str = "127.0.0.1",
        port: int = 8765,
        token: str | None = None,
        max_upload_bytes: int = DEFAULT_MAX_UPLOAD,
        links: FileLinks | None = None,
    ) -> None:
        token = token or None
        check_bind(host, token)
        self.service = service
        self.presenter = presenter
        self.host = host
        self.port = port
        self.token = token
        self.access = Access(token)
        self.context = WebContext(service, presenter, max_upload_bytes)
        self.writer = HistoryWriter(
            lambda: presenter.dirty, presenter.snapshot, presenter.write, presenter.mark_dirty
        )
        self._runner: web.AppRunner | None = None
        self.links = links  # serves signed links to full-size images when set
        self.app = self._build(max_upload_bytes)

    def _build(self, max_upload_bytes: int) -> web.Application:
        app = web.Application(
            middlewares=[error_middleware, self.access.middleware],
            client_max_size=max_upload_bytes * MAX_FILES + 1024 * 1024,
        )
        PageRoutes(self.context, self.access, self.links).add_to(app.router)
        ReadingRoutes(self.context).add_to(app.router)
        CommandRoutes(self.context).add_to(app.router)
        ReactionRoutes(self.context).add_to(app.router)
        app.on_shutdown.append(self._on_shutdown)
        return app

    async def start(self) -> None:
        self._runner = web.AppRunner(self.app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.port)
        await site.start()
        self.writer.start()
        log.info("web playground on %s", self.url)

    async def stop(self) -> None:
        await self.writer.stop()
        self.presenter.hub.close()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
        await self.writer.flush()

    @property
    def url(self) -> str:
        port = self.port
        if self._runner is not None and self._runner.addresses:
            port = self._runner.addresses[0][1]
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{port}/"

    async def _on_shutdown(self, app: web.Application) -> None:
        self.presenter.hub.close()


__all__ = ["CampaignServiceAPI", "WebApp", "WebConfigError", "check_bind", "is_loopback"]
