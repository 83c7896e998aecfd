"""Slack's message text as the command grammar reads it."""

from __future__ import annotations

import re


def unescape(text: str) -> str:
    """Slack's escaping of ``&``, ``<`` and ``>`` in the text it sends."""
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


def strip_mention(text: str, bot_user_id: str | None) -> tuple[bool, str]:
    """Whether ``text`` mentions the bot, and the text without those mentions."""
    if not bot_user_id:
        return False, text
    pattern = re.compile(rf"<@{re.escape(bot_user_id)}(?:\|[^>]*)?>")
    stripped, count = pattern.subn(" ", text)
    return count > 0, stripped


def command_line(text: str) -> str:
    """A chat line as the grammar reads it: unescaped, trimmed, Slack links reduced to their target."""
    text = re.sub(r"<(https?://[^|>]+)(?:\|[^>]*)?>", r"\1", text)
    return unescape(text).strip()
