"""Slash-command options: turned into the same token stream as the inline form, then parsed alike."""

from __future__ import annotations

import re
from collections.abc import Mapping

from bot.core.commands import Command, CommandError
from bot.core.grammar.errors import bad_value, flag_example, missing_arg
from bot.core.grammar.params import ARGS, FLAGS, Param
from bot.core.grammar.parse import find_spec, parse_tokens
from bot.core.grammar.table import COMMANDS, CommandSpec
from bot.core.grammar.tokens import Token, tokenize
from bot.core.grammar.values import Invalid, Switch

OptionValue = str | int | float | bool | None


def _option_word(value: OptionValue) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _option_tokens(spec: CommandSpec, options: Mapping[str, OptionValue]) -> list[Token] | CommandError:
    params = [ARGS[a.key] for a in spec.args] + [FLAGS[k] for k in spec.flags]
    by_name: dict[str, Param] = {p.key: p for p in params}
    for p in params:
        by_name.setdefault(p.field, p)
    given: dict[str, tuple[Param, OptionValue]] = {}
    for raw_key, value in options.items():
        key = str(raw_key).strip().lstrip("-").lower()
        if value is None or (len(spec.words) > 1 and key in ("action", "subcommand")):
            continue
        param = by_name.get(key)
        if param is None:
            names = ", ".join([a.key for a in spec.args] + list(spec.flags)) or "none"
            return CommandError(
                message=f"{spec.title} has no option {raw_key!r}; its options: {names}.",
                flag=str(raw_key),
                example=spec.example,
            )
        if param.key in given:
            return CommandError(
                message=f"{raw_key!r} was given twice.", flag=str(raw_key), example=spec.example
            )
        given[param.key] = (param, value)
    tokens: list[Token] = []
    for a in spec.args:
        if a.key not in given:
            if a.required:
                return missing_arg(spec, a.key)
            continue
        p, value = given.pop(a.key)
        if isinstance(value, bool):
            return bad_value(p.label, p, str(value), spec.example)
        word = _option_word(value)
        tokens.extend(tokenize(word) if p.arity == "rest" else [Token(word, quoted=True)])
    for key in spec.flags:
        if key not in given:
            continue
        p, value = given.pop(key)
        flag = Token(f"--{key}")
        if isinstance(p.vtype, Switch):
            try:
                on = value if isinstance(value, bool) else p.vtype.parse(_option_word(value))
            except Invalid:
                return bad_value(f"--{key}", p, str(value), flag_example(spec, key))
            tokens.extend([flag] if on else [])
            continue
        if isinstance(value, bool):
            return bad_value(f"--{key}", p, str(value), flag_example(spec, key))
        word = _option_word(value)
        parts = [w for w in re.split(p.split, word) if w] if p.split else [word]
        for part in parts or [word]:
            tokens.extend([flag, Token(part, quoted=True)])
    return tokens


def parse_options(name: str, options: Mapping[str, OptionValue]) -> Command | CommandError:
    """A slash command's name and option values -> the same command as its inline form.

    ``name`` is the command (``draft``, ``schedule add``, ``schedule_add``, or ``schedule`` with an
    ``action`` option). A prompt option may carry inline flags (``a fox --ar 16:9``).
    """
    try:
        words = re.split(r"[\s_]+", str(name).strip().removeprefix("/"))
        action = options.get("action", options.get("subcommand"))
        if len(words) == 1 and isinstance(action, str):
            words.append(action.strip())
        found = find_spec(words)
        if isinstance(found, CommandError):
            return found
        spec, used = found
        if used < len(words) and words[used]:
            return CommandError(
                message=f"Unexpected {words[used]!r} after {spec.title}.", example=spec.example
            )
        tokens = _option_tokens(spec, options)
        if isinstance(tokens, CommandError):
            return tokens
        return parse_tokens(spec, tokens)
    except Exception:
        return CommandError(message="Sorry, I could not read that command.", example=COMMANDS[0].example)
