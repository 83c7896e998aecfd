"""Chat durations: ``30s``, ``30m``, ``2h``, ``1d``, ``1h30m``; a plain number is minutes."""

from __future__ import annotations

import re

_UNITS: tuple[tuple[str, int], ...] = (("d", 86_400), ("h", 3_600), ("m", 60), ("s", 1))
_COMPOUND = re.compile(r"(?:(\d{1,6})d)?(?:(\d{1,6})h)?(?:(\d{1,6})m)?(?:(\d{1,6})s)?")
_PLAIN_MINUTES = re.compile(r"\d{1,6}")


def parse_duration(text: str) -> int | None:
    """Seconds, or None when ``text`` is not a duration."""
    t = text.strip().lower()
    if _PLAIN_MINUTES.fullmatch(t):
        return int(t) * 60
    m = _COMPOUND.fullmatch(t)
    if m is None or not any(m.groups()):
        return None
    return sum(int(g) * size for g, (_, size) in zip(m.groups(), _UNITS, strict=True) if g)


def format_duration(seconds: int) -> str:
    """The shortest compound form, e.g. 5400 -> ``1h30m``; ``parse_duration`` reads it back."""
    if seconds <= 0:
        return "0s"
    parts: list[str] = []
    rest = seconds
    for unit, size in _UNITS:
        count, rest = divmod(rest, size)
        if count:
            parts.append(f"{count}{unit}")
    return "".join(parts)
