"""Who may reach the playground: loopback-only without a token, the token beyond, a custom header on POSTs.

With a token, every API call carries it: ``Authorization: Bearer <token>``, ``X-Draftloop-Token: <token>``,
or the cookie the page sets when first opened as ``/?token=<token>``.
"""

from __future__ import annotations

import hmac
import ipaddress
from collections.abc import Awaitable, Callable

from aiohttp import web

from adapters.web.errors import json_error

TOKEN_COOKIE = "draftloop_token"
CLIENT_HEADER = "X-Draftloop-Client"  # a custom header: cross-site pages cannot send it without CORS
GUARDED_PREFIXES = ("/api/", "/artifacts/", "/metrics")
_LOOPBACK_NAMES = frozenset({"localhost", "localhost.localdomain", "ip6-localhost"})

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class WebConfigError(ValueError):
    """The playground cannot start with these settings (the message says what to change)."""


def is_loopback(host: str) -> bool:
    name = host.strip().strip("[]").lower()
    if name in _LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def check_bind(host: str, token: str | None) -> None:
    """Raise ``WebConfigError`` unless the playground may serve on ``host`` (call it before starting)."""
    if not is_loopback(host) and not token:
        raise WebConfigError(
            f"refusing to serve the web playground on {host}: binding beyond loopback needs a token. "
            "Set DRAFTLOOP_WEB_TOKEN (or pass token=...), or bind 127.0.0.1."
        )


def same_token(given: str, token: str) -> bool:
    return hmac.compare_digest(given.encode(), token.encode())


class Access:
    """The token check and the middleware that applies it."""

    def __init__(self, token: str | None) -> None:
        self.token = token or None

    def token_ok(self, request: web.Request) -> bool:
        if self.token is None:
            return True
        auth = request.headers.get("Authorization", "")
        candidates = [
            auth[7:] if auth.startswith("Bearer ") else "",
            request.headers.get("X-Draftloop-Token", ""),
            request.cookies.get(TOKEN_COOKIE, ""),
        ]
        return any(c and same_token(c, self.token) for c in candidates)

    @web.middleware
    async def middleware(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        if self.token is None and not is_loopback(request.url.host or ""):
            # bound to loopback without a token: a page from elsewhere reaching us by a DNS name is refused
            return json_error(403, "the playground answers only on localhost / 127.0.0.1")
        if request.path.startswith(GUARDED_PREFIXES) and not self.token_ok(request):
            return json_error(
                401, "token required: send Authorization: Bearer <token>, or open /?token=<token> once"
            )
        if request.method == "POST" and not request.headers.get(CLIENT_HEADER):
            return json_error(403, f"missing {CLIENT_HEADER} header")
        return await handler(request)
