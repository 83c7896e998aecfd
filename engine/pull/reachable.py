"""A quick TCP probe of a host before a pull, so no network is one clear line rather than minutes of
retries inside the HTTP clients."""

from __future__ import annotations

import socket
import urllib.request
from urllib.parse import urlsplit

from engine.pull.errors import Unreachable

PROBE_TIMEOUT_S = 5.0


def ensure_reachable(url: str, advice: str, timeout: float = PROBE_TIMEOUT_S) -> None:
    """Raises Unreachable unless a TCP connection to ``url``'s host opens (skipped behind a proxy, which
    the HTTP clients use instead)."""
    parts = urlsplit(url)
    if parts.hostname is None:
        raise Unreachable(url, "not a URL: " + advice)
    if parts.scheme in urllib.request.getproxies() and not urllib.request.proxy_bypass(parts.hostname):
        return
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        with socket.create_connection((parts.hostname, port), timeout=timeout):
            return
    except OSError as exc:
        raise Unreachable(parts.netloc, advice) from exc
