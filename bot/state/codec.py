"""Reading replies from clients made with or without ``decode_responses``."""

from __future__ import annotations


def as_str(value: object) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)
