"""Parsing a token stream into a typed command; ``parse`` reads a whole chat line."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, cast

from pydantic import ValidationError

from bot.core.commands import Command, CommandError
from bot.core.grammar.errors import (
    bad_value,
    flag_example,
    missing_arg,
    no_command,
    unknown_command,
    validation_error,
)
from bot.core.grammar.params import ARGS, FLAGS, Param
from bot.core.grammar.table import BY_WORDS, COMMANDS, CommandSpec, Fields
from bot.core.grammar.tokens import Token, flag_of, tokenize
from bot.core.grammar.values import Invalid, Switch
from bot.core.grammar.words import Candidates

MAX_LINE = 50_000


def _parse_arg(spec: CommandSpec, p: Param, raws: list[str]) -> Any:
    if p.arity == "many" and isinstance(p.vtype, Candidates):
        return p.vtype.parse_many(raws)
    return p.vtype.parse(" ".join(raws))


def _assign_args(spec: CommandSpec, words: list[Token]) -> Fields | CommandError:
    fields: Fields = {}
    i = 0
    for arg in spec.args:
        p = ARGS[arg.key]
        if i >= len(words):
            if arg.required:
                return missing_arg(spec, arg.key)
            continue
        if p.arity in ("rest", "many"):
            taken = words[i:]
        elif p.arity == "cron" and not words[i].quoted:
            taken = words[i : i + 5]
        else:
            taken = words[i : i + 1]
        i += len(taken)
        raws = [t.text for t in taken]
        try:
            fields.update(p.fields_for([_parse_arg(spec, p, raws)]))
        except Invalid:
            return bad_value(p.label, p, " ".join(raws), spec.example)
    if i < len(words):
        extra = " ".join(t.text for t in words[i:])
        extra = extra if len(extra) <= 40 else extra[:40] + "…"
        if spec.bare_keys:
            keys = ", ".join(spec.flags)
            return CommandError(
                message=f"Unknown {spec.title} key {extra!r}; the keys are {keys}.",
                flag=None,
                example=spec.example,
            )
        return CommandError(
            message=f"Unexpected {extra!r}. Usage: {spec.usage()}", flag=None, example=spec.example
        )
    return fields


def parse_tokens(spec: CommandSpec, tokens: list[Token]) -> Command | CommandError:
    values: dict[str, list[Any]] = {}
    words: list[Token] = []
    i = 0
    while i < len(tokens):
        tok = tokens[i]
        i += 1
        flag = flag_of(tok, spec)
        if flag is None:
            words.append(tok)
            continue
        key, inline = flag
        label = spec.flag_word(key)
        if key not in spec.flags:
            allowed = ", ".join(f"--{k}" for k in spec.flags)
            msg = f"{tok.text.split('=')[0]} is not a {spec.title} option; " + (
                f"use {allowed}." if allowed else f"{spec.title} takes no options."
            )
            return CommandError(message=msg, flag=tok.text.split("=")[0], example=spec.example)
        p = FLAGS[key]
        seen = values.setdefault(key, [])
        if len(seen) >= p.max_count:
            times = "once" if p.max_count == 1 else f"at most {p.max_count} times"
            return CommandError(
                message=f"{label} can be given {times}.", flag=label, example=flag_example(spec, key)
            )
        if isinstance(p.vtype, Switch):
            if inline is not None:
                return CommandError(
                    message=f"{label} takes no value, got {inline!r}.",
                    flag=label,
                    example=flag_example(spec, key),
                )
            seen.append(True)
            continue
        parts = [] if inline is None else [inline]
        while i < len(tokens) and flag_of(tokens[i], spec) is None and (p.greedy or not parts):
            parts.append(tokens[i].text)
            i += 1
        if not parts:
            return CommandError(
                message=f"{label} needs a value: {p.vtype.describe()}.",
                flag=label,
                example=flag_example(spec, key),
            )
        raw = " ".join(parts)
        try:
            seen.append(p.vtype.parse(raw))
        except Invalid:
            return bad_value(label, p, raw, flag_example(spec, key))
    fields = _assign_args(spec, words)
    if isinstance(fields, CommandError):
        return fields
    for key, got in values.items():
        fields.update(FLAGS[key].fields_for(got))
    if spec.finish is not None:
        finished = spec.finish(fields)
        if isinstance(finished, CommandError):
            return finished
        fields = finished
    try:
        return cast(Command, spec.build(fields))
    except ValidationError as e:
        return validation_error(spec, e)


def find_spec(words: Sequence[str]) -> tuple[CommandSpec, int] | CommandError:
    if not words or not words[0]:
        return no_command()
    head = words[0].lower()
    subs = [c for c in COMMANDS if c.words[0] == head and len(c.words) > 1]
    if not subs:
        spec = BY_WORDS.get((head,))
        return (spec, 1) if spec is not None else unknown_command(words[0])
    second = words[1].lower() if len(words) > 1 else ""
    for spec in subs:
        if spec.words[1] == second:
            return spec, 2
    choices = ", ".join(c.words[1] for c in subs)
    return CommandError(message=f"/{head} needs one of: {choices}.", flag=None, example=subs[0].example)


def parse(text: str) -> Command | CommandError:
    """A whole chat line (the leading slash is optional) -> a typed command, or why not."""
    try:
        if not isinstance(text, str):
            return no_command()
        if len(text) > MAX_LINE:
            return CommandError(
                message=f"That command is longer than {MAX_LINE} characters.", example=COMMANDS[0].example
            )
        tokens = tokenize(text.strip().removeprefix("/"))
        found = find_spec([t.text for t in tokens[:2]])
        if isinstance(found, CommandError):
            return found
        spec, used = found
        return parse_tokens(spec, tokens[used:])
    except Exception:
        return CommandError(message="Sorry, I could not read that command.", example=COMMANDS[0].example)
