"""The canonical command line of a typed command."""

from __future__ import annotations

from bot.core.commands import Command
from bot.core.grammar.params import ARGS, FLAGS
from bot.core.grammar.table import BY_MODEL
from bot.core.grammar.tokens import quote, render_text, render_word
from bot.core.grammar.values import Switch


def format_command(cmd: Command) -> str:
    """The canonical command line: ``parse(format_command(c)) == c`` for every parsed command."""
    spec = BY_MODEL[type(cmd)]
    fields = spec.fields_of(cmd)
    parts = [spec.title]
    for a in spec.args:
        p = ARGS[a.key]
        v = fields.get(p.field)
        if v is None or (not a.required and v == spec.default_of(p.field)):
            continue
        if p.arity == "rest":
            parts.append(render_text(p.vtype.format(v), spec))
        elif p.arity == "cron":
            parts.append(quote(v))
        elif p.arity == "many":
            parts.append(p.vtype.format(v))
        else:
            parts.append(render_word(p.vtype.format(v), spec))
    for key in spec.flags:
        p = FLAGS[key]
        for v in p.values_in(fields, spec.default_of(p.field)):
            parts.append(spec.flag_word(key))
            if isinstance(p.vtype, Switch):
                continue
            shown = p.vtype.format(v)
            parts.append(render_text(shown, spec) if p.greedy else render_word(shown, spec))
    return " ".join(parts)
