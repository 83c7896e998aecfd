"""Value types that name things: text, images, models, LoRAs, candidates, cron lines, schedule ids."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from croniter import croniter

from bot.core.grammar.values import FloatRange, Invalid, ValueType, fmt_float
from engine.api import LoraSpec

MAX_PROMPT = 1000
MAX_CANDIDATE = 9999


class Text(ValueType):
    metavar = "TEXT"

    def __init__(self, limit: int = MAX_PROMPT) -> None:
        self.limit = limit

    def describe(self) -> str:
        return f"text of 1-{self.limit} characters"

    def parse(self, raw: str) -> str:
        v = raw.strip()
        if not v or len(v) > self.limit:
            raise Invalid
        return v


class Ref(Text):
    metavar = "IMAGE"

    def __init__(self) -> None:
        super().__init__(2000)

    def describe(self) -> str:
        return "an image: an attachment name, URL or artifact key"


class Name(Text):
    metavar = "NAME"

    def __init__(self) -> None:
        super().__init__(200)

    def describe(self) -> str:
        return "a model name, hub id or path"


class CampaignRef(Text):
    metavar = "REF"

    def __init__(self) -> None:
        super().__init__(100)

    def describe(self) -> str:
        return "a campaign's short id or words of its title"


class Lora(ValueType):
    metavar = "NAME:WEIGHT"
    _re = re.compile(r"([A-Za-z0-9_./-]{1,100})(?::(.*))?", re.DOTALL)
    _weight = FloatRange(-2, 2)

    def describe(self) -> str:
        default = fmt_float(LoraSpec.model_fields["weight"].default)
        return f"NAME:WEIGHT with a weight -2..2 (the weight is {default} if left out)"

    def parse(self, raw: str) -> LoraSpec:
        m = self._re.fullmatch(raw.strip())
        if m is None:
            raise Invalid
        if m.group(2) is None:
            return LoraSpec(name=m.group(1))
        return LoraSpec(name=m.group(1), weight=self._weight.parse(m.group(2)))

    def format(self, value: Any) -> str:
        return f"{value.name}:{fmt_float(value.weight)}"


class Candidate(ValueType):
    metavar = "<n>"
    _re = re.compile(r"#?(\d{1,4})")

    def describe(self) -> str:
        return f"a candidate number 1-{MAX_CANDIDATE} like 3 or #3"

    def parse(self, raw: str) -> int:
        m = self._re.fullmatch(raw.strip())
        if m is None or int(m.group(1)) < 1:
            raise Invalid
        return int(m.group(1))


class Candidates(Candidate):
    metavar = "<n...>"
    limit = 10

    def describe(self) -> str:
        return f"up to {self.limit} candidate numbers 1-{MAX_CANDIDATE} like 2 5 or #2,#5"

    def parse_many(self, raws: Sequence[str]) -> tuple[int, ...]:
        words = [w for raw in raws for w in re.split(r"[,\s]+", raw) if w]
        if not words:
            raise Invalid
        numbers = tuple(dict.fromkeys(self.parse(w) for w in words))
        if len(numbers) > self.limit:
            raise Invalid
        return numbers

    def format(self, value: Any) -> str:
        return " ".join(str(v) for v in value)


class Cron(ValueType):
    metavar = '"<cron>"'

    def describe(self) -> str:
        return 'a cron line of 5 fields in quotes, like "0 9 * * 1" (Mondays at 09:00)'

    def parse(self, raw: str) -> str:
        line = " ".join(raw.split())
        if len(line.split(" ")) != 5 or len(line) > 200:
            raise Invalid
        try:
            ok = bool(croniter.is_valid(line))
        except Exception:
            ok = False
        if not ok:
            raise Invalid
        return line


class ScheduleId(ValueType):
    metavar = "<id>"
    _re = re.compile(r"[A-Za-z0-9_-]{1,64}")

    def describe(self) -> str:
        return "a schedule id as shown by /schedule list"

    def parse(self, raw: str) -> str:
        v = raw.strip()
        if not self._re.fullmatch(v):
            raise Invalid
        return v


class Topic(ValueType):
    """A command name as /help takes it: ``draft``, ``/draft``, ``schedule add`` or ``schedule_add``."""

    metavar = "<command>"
    _re = re.compile(r"[a-z]{1,20}(?: [a-z]{1,20})?")

    def describe(self) -> str:
        return "a command name like draft or schedule add"

    def parse(self, raw: str) -> str:
        v = " ".join(raw.strip().lower().removeprefix("/").replace("_", " ").split())
        if not self._re.fullmatch(v):
            raise Invalid
        return v
