"""Long texts split into pieces a platform accepts, the same way on every platform."""

from __future__ import annotations


def chunks(text: str, limit: int) -> list[str]:
    """``text`` in pieces of at most ``limit`` characters, in order; joined, they are ``text`` again.

    A piece ends after a line break where there is one, else after a space, else at the limit.
    """
    if limit < 1:
        raise ValueError(f"a piece holds at least one character, not {limit}")
    pieces: list[str] = []
    rest = text
    while len(rest) > limit:
        head = rest[:limit]
        cut = head.rfind("\n") + 1 or head.rfind(" ") + 1 or limit
        pieces.append(rest[:cut])
        rest = rest[cut:]
    if rest or not pieces:
        pieces.append(rest)
    return pieces


def one_line(text: str, limit: int) -> str:
    """``text`` on one line (whitespace runs become one space), cut at a word boundary to fit ``limit``."""
    line = " ".join(text.split())
    if len(line) <= limit:
        return line
    head = line[: limit - 1]
    space = head.rfind(" ")
    if space >= limit // 2:
        head = head[:space]
    return head.rstrip(" ·,;:—-") + "…"
