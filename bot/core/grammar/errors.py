"""The parser's answers when a line doesn't fit: each names the flag, what is allowed, and an example."""

from __future__ import annotations

import difflib

from pydantic import ValidationError

from bot.core.commands import CommandError
from bot.core.grammar.params import ARGS, FLAGS, Param
from bot.core.grammar.table import COMMANDS, TOP_WORDS, CommandSpec


def bad_value(label: str, p: Param, raw: str, example: str) -> CommandError:
    shown = raw if len(raw) <= 40 else raw[:40] + "…"
    return CommandError(
        message=f"{label} must be {p.vtype.describe()}, got {shown!r}.", flag=label, example=example
    )


def flag_example(spec: CommandSpec, key: str) -> str:
    return spec.flag_line(key)


def missing_arg(spec: CommandSpec, key: str) -> CommandError:
    p = ARGS[key]
    return CommandError(
        message=f"{spec.title} needs {p.label} ({p.help}). Usage: {spec.usage()}",
        flag=p.label,
        example=spec.example,
    )


def validation_error(spec: CommandSpec, e: ValidationError) -> CommandError:
    first = e.errors()[0] if e.errors() else {"loc": (), "msg": "invalid"}
    field = str(first["loc"][0]) if first["loc"] else ""
    by_field = {p.field: spec.flag_word(p.key) for p in FLAGS.values()}
    by_field |= {p.field: p.key for p in ARGS.values()}
    label = by_field.get(field, field or spec.title)
    return CommandError(message=f"{label} is not valid: {first['msg']}.", flag=label, example=spec.example)


def unknown_command(word: str) -> CommandError:
    names = ", ".join(f"/{w}" for w in TOP_WORDS)
    close = difflib.get_close_matches(word.lower(), TOP_WORDS, n=1)
    hint = f" Did you mean /{close[0]}?" if close else ""
    shown = word if len(word) <= 30 else word[:30] + "…"
    return CommandError(
        message=f"Unknown command {shown!r}.{hint} Commands: {names}.", example=COMMANDS[0].example
    )


def no_command() -> CommandError:
    names = ", ".join(f"/{w}" for w in TOP_WORDS)
    return CommandError(message=f"Type a command: {names}.", example=COMMANDS[0].example)
