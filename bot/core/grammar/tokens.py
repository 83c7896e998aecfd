"""Tokens: words, quotes (straight and curly) with escapes, and flags written with two hyphens or a dash.

``quote`` and ``render_text`` go the other way: they print text so that ``tokenize`` reads it back.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from bot.core.grammar.table import CommandSpec


@dataclass(frozen=True)
class Token:
    text: str
    quoted: bool = False  # quoted words are never read as flags


_OPEN_QUOTES = frozenset('"“')
_CLOSE_QUOTES = frozenset('"”')
_ESCAPABLE = frozenset('\\"“”')
_FLAG_RE = re.compile(r"(?:--|—|–)([A-Za-z][\w-]*)(?:=(.*))?", re.DOTALL)
_BARE_RE = re.compile(r"([A-Za-z]+)(?:=(.*))?", re.DOTALL)


def _read_quoted(text: str, start: int) -> tuple[str, int] | None:
    out: list[str] = []
    j, n = start, len(text)
    while j < n:
        c = text[j]
        if c == "\\" and j + 1 < n and text[j + 1] in _ESCAPABLE:
            out.append(text[j + 1])
            j += 2
        elif c in _CLOSE_QUOTES and (j + 1 == n or text[j + 1].isspace()):
            return "".join(out), j + 1
        else:
            out.append(c)
            j += 1
    return None


def tokenize(text: str) -> list[Token]:
    """Words split on whitespace; ``"..."`` (or “...”) is one word, with ``\\"`` and ``\\\\`` escapes.

    An unmatched quote is an ordinary character, so ``a 12" record`` needs no escaping.
    """
    tokens: list[Token] = []
    i, n = 0, len(text)
    while i < n:
        if text[i].isspace():
            i += 1
            continue
        if text[i] in _OPEN_QUOTES:
            got = _read_quoted(text, i + 1)
            if got is not None:
                tokens.append(Token(got[0], quoted=True))
                i = got[1]
                continue
        j = i
        while j < n and not text[j].isspace():
            j += 1
        flag = _FLAG_RE.fullmatch(text[i:j])
        if flag and flag.group(2) and flag.group(2)[0] in _OPEN_QUOTES:
            got = _read_quoted(text, i + flag.start(2) + 1)
            if got is not None:
                tokens.append(Token(text[i : i + flag.start(2)] + got[0]))
                i = got[1]
                continue
        tokens.append(Token(text[i:j]))
        i = j
    return tokens


def flag_of(tok: Token, spec: CommandSpec) -> tuple[str, str | None] | None:
    """(name, inline value) when the token is a flag for this command (or looks like any flag)."""
    if tok.quoted:
        return None
    m = _FLAG_RE.fullmatch(tok.text)
    if m is not None:
        return m.group(1).lower(), m.group(2)
    if spec.bare_keys:
        m = _BARE_RE.fullmatch(tok.text)
        if m is not None and m.group(1).lower() in spec.flags:
            return m.group(1).lower(), m.group(2)
    return None


def quote(text: str) -> str:
    escaped = "".join("\\" + c if c in _ESCAPABLE else c for c in text)
    return f'"{escaped}"'


def render_text(text: str, spec: CommandSpec) -> str:
    """Words as typed when they read back unchanged, otherwise one quoted word."""
    tokens = tokenize(text)
    plain = (
        bool(tokens)
        and all(not t.quoted and t.text[0] not in _OPEN_QUOTES and flag_of(t, spec) is None for t in tokens)
        and " ".join(t.text for t in tokens) == text
    )
    return text if plain else quote(text)


def render_word(text: str, spec: CommandSpec) -> str:
    return text if len(tokenize(text)) == 1 and render_text(text, spec) == text else quote(text)
