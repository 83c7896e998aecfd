"""Signed, expiring links to full-size images, for platforms whose upload limit a file is over.

The link names the image by its content key and carries an expiry time and an HMAC of both, so the
bot's HTTP endpoint serves exactly that image until then, to whoever has the link, with no other token.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import time
from collections.abc import Callable

DEFAULT_LINK_SECONDS = 7 * 86400
FILES_PATH = "/files"
_KEY_RE = re.compile(r"^[0-9a-f]{64}$")


class FileLinks:
    def __init__(
        self,
        secret: str,
        public_url: str,
        *,
        ttl_seconds: int = DEFAULT_LINK_SECONDS,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if not secret:
            raise ValueError("a link secret is required to sign file links")
        self._secret = secret.encode()
        self.public_url = public_url.rstrip("/")
        self.ttl_seconds = ttl_seconds
        self.clock = clock

    def __repr__(self) -> str:  # never the secret
        return f"FileLinks(public_url={self.public_url!r}, ttl_seconds={self.ttl_seconds})"

    def url(self, key: str) -> str:
        """A link to the image ``key`` that works for ``ttl_seconds`` from now."""
        expires = int(self.clock()) + self.ttl_seconds
        return f"{self.public_url}{FILES_PATH}/{key}.png?exp={expires}&sig={self._sign(key, expires)}"

    def valid(self, key: str, expires: str, signature: str) -> bool:
        """Whether a link's parts were signed here and have not expired."""
        if not _KEY_RE.match(key) or not expires.isdigit():
            return False
        if int(expires) < self.clock():
            return False
        return hmac.compare_digest(self._sign(key, int(expires)), signature)

    def _sign(self, key: str, expires: int) -> str:
        return hmac.new(self._secret, f"{key}:{expires}".encode(), hashlib.sha256).hexdigest()
