"""Value types: how a raw word is read, how a value is printed back, how the allowed range is described.

This module holds the base type and the numeric, choice, duration, box and switch types; the types
that name things (text, images, candidates, cron lines, ids) are in ``words``.
"""

from __future__ import annotations

import math
import re
from abc import ABC, abstractmethod
from typing import Any

from bot.core.durations import format_duration, parse_duration


class Invalid(Exception):
    """A value that does not fit its type; turned into a CommandError by the parser."""


def fmt_float(v: float) -> str:
    s = repr(float(v))
    return s[:-2] if s.endswith(".0") else s


_INT_RE = re.compile(r"[+-]?\d{1,20}")
_FLOAT_RE = re.compile(r"[+-]?(?:\d{1,20}\.?\d{0,20}|\.\d{1,20})(?:[eE][+-]?\d{1,3})?")


class ValueType(ABC):
    metavar = "VALUE"

    @abstractmethod
    def describe(self) -> str: ...

    @abstractmethod
    def parse(self, raw: str) -> Any: ...

    def format(self, value: Any) -> str:
        return str(value)


class IntRange(ValueType):
    metavar = "N"

    def __init__(self, lo: int, hi: int) -> None:
        self.lo, self.hi = lo, hi

    def describe(self) -> str:
        return f"a whole number {self.lo}-{self.hi}"

    def parse(self, raw: str) -> int:
        if not _INT_RE.fullmatch(raw.strip()):
            raise Invalid
        v = int(raw)
        if not self.lo <= v <= self.hi:
            raise Invalid
        return v


class FloatRange(ValueType):
    metavar = "X"

    def __init__(self, lo: float, hi: float) -> None:
        self.lo, self.hi = lo, hi

    def describe(self) -> str:
        return f"a number {fmt_float(self.lo)}-{fmt_float(self.hi)}"

    def parse(self, raw: str) -> float:
        if not _FLOAT_RE.fullmatch(raw.strip()):
            raise Invalid
        v = float(raw)
        if not math.isfinite(v) or not self.lo <= v <= self.hi:
            raise Invalid
        return v

    def format(self, value: Any) -> str:
        return fmt_float(value)


class Choice(ValueType):
    def __init__(self, *choices: str | int) -> None:
        self.choices = choices
        self.metavar = "|".join(str(c) for c in choices)

    def describe(self) -> str:
        return "one of " + ", ".join(str(c) for c in self.choices)

    def parse(self, raw: str) -> str | int:
        word = raw.strip().lower()
        for c in self.choices:
            if word == str(c):
                return c
        raise Invalid


class Scale(Choice):
    def __init__(self) -> None:
        super().__init__(2, 4)

    def describe(self) -> str:
        return "2 or 4 (2x and x2 work too)"

    def parse(self, raw: str) -> str | int:
        return super().parse(raw.strip().lower().removeprefix("x").removesuffix("x"))


class Aspect(ValueType):
    metavar = "W:H"
    _re = re.compile(r"(\d{1,2}):(\d{1,2})")

    def describe(self) -> str:
        return "W:H with each side 1-21 and the ratio within 1:4..4:1"

    def parse(self, raw: str) -> tuple[int, int]:
        m = self._re.fullmatch(raw.strip())
        if m is None:
            raise Invalid
        w, h = int(m.group(1)), int(m.group(2))
        if not (1 <= w <= 21 and 1 <= h <= 21 and w <= 4 * h and h <= 4 * w):
            raise Invalid
        return (w, h)

    def format(self, value: Any) -> str:
        return f"{value[0]}:{value[1]}"


class Duration(ValueType):
    metavar = "DURATION"

    def __init__(self, lo: int, hi: int) -> None:
        self.lo, self.hi = lo, hi

    def describe(self) -> str:
        return (
            f"a duration {format_duration(self.lo)}-{format_duration(self.hi)} "
            "like 30s, 30m, 2h or 1h30m (a plain number is minutes)"
        )

    def parse(self, raw: str) -> int:
        v = parse_duration(raw)
        if v is None or not self.lo <= v <= self.hi:
            raise Invalid
        return v

    def format(self, value: Any) -> str:
        return format_duration(int(value))


class Budget(ValueType):
    """A duration of device time, or ``none`` (parsed as None) to clear the budget."""

    metavar = "DURATION|none"

    def __init__(self, lo: int, hi: int) -> None:
        self.duration = Duration(lo, hi)

    def describe(self) -> str:
        return self.duration.describe() + ", or none"

    def parse(self, raw: str) -> int | None:
        if raw.strip().lower() == "none":
            return None
        return self.duration.parse(raw)

    def format(self, value: Any) -> str:
        return "none" if value is None else self.duration.format(value)


class Box(ValueType):
    """A region: ``x,y,w,h`` in pixels of the image, or in percent of its size (``10%,20%,30%,40%``).

    Parses to ``("px", x, y, w, h)`` or ``("%", x, y, w, h)``.
    """

    metavar = "x,y,w,h"
    _px = re.compile(r"\s*(\d{1,5})\s*,\s*(\d{1,5})\s*,\s*(\d{1,5})\s*,\s*(\d{1,5})\s*")
    _pct = re.compile(r"\s*(\d{1,3}(?:\.\d{1,2})?)\s*%\s*")

    def describe(self) -> str:
        return "x,y,w,h in pixels of the image, or in percent of its size (10%,20%,30%,40%)"

    def parse(self, raw: str) -> tuple[str, int | float, int | float, int | float, int | float]:
        m = self._px.fullmatch(raw)
        if m is not None:
            x, y, w, h = (int(g) for g in m.groups())
            if w < 1 or h < 1:
                raise Invalid
            return ("px", x, y, w, h)
        parts = raw.split(",")
        if len(parts) != 4:
            raise Invalid
        found = [self._pct.fullmatch(part) for part in parts]
        if any(f is None for f in found):
            raise Invalid
        px, py, pw, ph = (float(f.group(1)) for f in found if f is not None)
        if pw <= 0 or ph <= 0 or px + pw > 100 or py + ph > 100:
            raise Invalid
        return ("%", px, py, pw, ph)

    def format(self, value: Any) -> str:
        unit, *numbers = value
        if unit == "%":
            return ",".join(f"{fmt_float(v)}%" for v in numbers)
        return ",".join(str(v) for v in numbers)


class Switch(ValueType):
    """A flag without a value: present means on."""

    metavar = ""
    _true = frozenset({"true", "yes", "on", "1"})
    _false = frozenset({"false", "no", "off", "0"})

    def describe(self) -> str:
        return "on or off (as a flag it takes no value)"

    def parse(self, raw: str) -> bool:
        word = raw.strip().lower()
        if word in self._true:
            return True
        if word in self._false:
            return False
        raise Invalid
