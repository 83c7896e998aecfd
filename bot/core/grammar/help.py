"""Help: the summary of every command and option, or one command's usage, options and examples."""

from __future__ import annotations

from bot.core.grammar.params import ARGS, FLAGS
from bot.core.grammar.table import COMMANDS, TOP_WORDS, CommandSpec
from bot.core.grammar.values import Invalid, Switch
from bot.core.grammar.words import Topic


def help_text(topic: str | None = None) -> str:
    """The grammar summary with one example per command, or the usage and options of one command.

    ``topic`` is a command name (``draft``, ``/draft``, ``schedule add``); a first word alone
    (``schedule``) covers each command it starts.
    """
    if topic is None:
        return _summary()
    try:
        name = Topic().parse(topic)
    except Invalid:
        name = ""
    specs = [c for c in COMMANDS if name in (c.words[0], " ".join(c.words))]
    if not specs:
        names = ", ".join(f"/{w}" for w in TOP_WORDS)
        shown = topic if len(topic) <= 30 else topic[:30] + "…"
        return f"There is no command {shown!r}. Commands: {names}. Type /help for all of them."
    return "\n\n".join(_command_help(c) for c in specs)


def _command_help(spec: CommandSpec) -> str:
    lines = [spec.usage(), f"{spec.summary[:1].upper()}{spec.summary[1:]}. Example: {spec.example}"]
    for a in spec.args:
        p = ARGS[a.key]
        optional = "" if a.required else " (optional)"
        lines.append(f"  {p.label}: {p.help}{optional}; {p.vtype.describe()}. e.g. {p.example}")
    for key in spec.flags:
        p = FLAGS[key]
        word = spec.flag_word(key)
        if isinstance(p.vtype, Switch):
            lines.append(f"  {word}: {p.help}")
            continue
        lines.append(f"  {word} {p.metavar}: {p.help}; {p.vtype.describe()}. e.g. {word} {p.example}")
    return "\n".join(lines)


def _summary() -> str:
    """The grammar summary with one example per command, for /help and the README."""
    width = max(len(c.title) for c in COMMANDS)
    lines = ["Commands:"]
    for c in COMMANDS:
        lines.append(f"  {c.title.ljust(width)}  {c.summary}. Example: {c.example}")
    lines.append("")
    lines.append("Options (--flag value or --flag=value; /settings also takes `key value`):")
    for p in FLAGS.values():
        used = ", ".join(c.title for c in COMMANDS if p.key in c.flags and c.words != ("schedule", "add"))
        if isinstance(p.vtype, Switch):
            lines.append(f"  --{p.key}: {p.help} ({used})")
            continue
        lines.append(
            f"  --{p.key} {p.metavar}: {p.help}; {p.vtype.describe()}. e.g. --{p.key} {p.example} ({used})"
        )
    lines.append("")
    lines.append(
        "Candidates are numbered #1, #2, ... across the campaign; "
        "durations: 30s, 30m, 2h, 1d, 1h30m (a plain number is minutes)."
    )
    lines.append("/help models lists the models and LoRAs the engine serves, with their trigger words.")
    return "\n".join(lines)
