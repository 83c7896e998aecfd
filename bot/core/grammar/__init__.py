"""The command grammar shared by every adapter.

One table of parameters (flags and positional arguments) drives the inline parser (``parse``), the
slash-option parser (``parse_options``), the canonical printer (``format_command``) and ``help_text``.
Both parsers turn their input into the same token stream and run the same code on it, so a slash
command and its inline form give equal commands.

Modules: ``values`` and ``words`` (value types), ``params`` (every flag and positional argument),
``table`` (the commands), ``tokens`` (words, quotes, dashes), ``errors`` (answers to lines that
don't fit), ``parse``, ``options``, ``printing`` and ``help``.
"""

from __future__ import annotations

from bot.core.grammar.help import help_text
from bot.core.grammar.options import OptionValue, parse_options
from bot.core.grammar.params import ARGS, FLAGS, OUTPAINT_DEFAULT_ZOOM, Param
from bot.core.grammar.parse import MAX_LINE, parse
from bot.core.grammar.printing import format_command
from bot.core.grammar.table import COMMANDS, CommandSpec
from bot.core.grammar.tokens import Token, tokenize
from bot.core.grammar.words import MAX_CANDIDATE, MAX_PROMPT

__all__ = [
    "ARGS",
    "COMMANDS",
    "FLAGS",
    "MAX_CANDIDATE",
    "MAX_LINE",
    "MAX_PROMPT",
    "OUTPAINT_DEFAULT_ZOOM",
    "CommandSpec",
    "OptionValue",
    "Param",
    "Token",
    "format_command",
    "help_text",
    "parse",
    "parse_options",
    "tokenize",
]
