"""How the playground answers what goes wrong: a JSON ``{"error": reason}`` with the right status.

A request the playground cannot read is the client's fault (4xx, saying why); a bot that is reconnecting
to Redis or too busy answers 503 with Retry-After; anything else is logged with its traceback and answered
500 without internals.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

from aiohttp import web

from bot.availability import BotUnavailable

log = logging.getLogger(__name__)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class RequestError(Exception):
    """A request the playground refuses: ``status`` (4xx) and a reason the client can act on."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


def json_error(status: int, message: str) -> web.Response:
    return web.json_response({"error": message}, status=status)


@web.middleware
async def error_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        return await handler(request)
    except RequestError as exc:
        return json_error(exc.status, exc.reason)
    except BotUnavailable as exc:  # Redis away or its pool exhausted: logged once, elsewhere
        response = json_error(503, exc.text)
        response.headers["Retry-After"] = str(max(1, round(exc.retry_after_seconds)))
        return response
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        return json_error(exc.status, exc.text or exc.reason)
    except Exception:
        log.exception("the playground failed on %s %s", request.method, request.path)
        return json_error(500, "the playground failed on that request; the server log has the details")
