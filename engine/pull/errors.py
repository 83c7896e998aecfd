"""Why a pull stopped, each with a one-line message for the person who ran it."""

from __future__ import annotations


class PullError(Exception):
    """A pull that cannot go on (unknown name, missing repo or file)."""


class Unreachable(PullError):
    """The host could not be reached: no network, or a wrong endpoint."""

    def __init__(self, host: str, advice: str) -> None:
        super().__init__(f"cannot reach {host}: {advice}")
        self.host = host


class IntegrityError(PullError):
    """Downloaded bytes that do not match the published sha256 (the file was removed)."""
