"""How a person writes a command on each platform, and the bot's texts put in that form.

The core writes every command it mentions in the grammar's form (`/vary 3`), which Discord and the web
playground take as typed, in channels and threads alike. Slack registers only `/draft` and `/dl`, and
its app slash commands don't work in threads: in a campaign thread a command is a mention of the bot
(`@draftloop vary 3`, or `vary 3` as a message in the thread), and in a channel it goes through `/dl`,
naming the campaign (`/dl vary 3 --campaign a1b2c3`). ``Phrasing.text`` rewrites a finished text.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

from bot.core.effects import Effect, Post, Reply, UpdateStatus
from bot.core.grammar.table import COMMANDS, TOP_WORDS

Place = Literal["thread", "channel"]
PLATFORMS: tuple[str, ...] = ("discord", "slack", "web")

BOT_MENTION = "@draftloop"
SLACK_COMMAND = "/dl"
# the commands Slack registers under their own name; every other one goes through /dl
SLACK_OWN_COMMANDS: frozenset[str] = frozenset({"draft"})
# commands that belong to a channel, written for the channel wherever the text is read
CHANNEL_WORDS: frozenset[str] = frozenset({"schedule"})
# what follows a command a text means for the channel (``start a new one with /draft in the channel``)
_IN_CHANNEL = re.compile(r"`? in (?:the|a|this) channel")
# platforms whose typed lines reach the grammar whole, so ``--campaign`` names a campaign in a channel
# (Discord's slash commands take only the options they declare)
CAMPAIGN_FLAG_PLATFORMS: frozenset[str] = frozenset({"slack", "web"})
# commands that act on one campaign, so a channel line names it
CAMPAIGN_WORDS: frozenset[str] = frozenset(c.words[0] for c in COMMANDS if "campaign" in c.flags)

_WORDS = "|".join(sorted(TOP_WORDS, key=len, reverse=True))
# a command in a code span (`/vary 3 strong`), another code span (left alone), or a bare mention
# (/refine <n>) with the placeholders and numbers that follow it
_MENTION = re.compile(
    rf"`(?P<code>/(?:{_WORDS})\b[^`\n]*)`"
    r"|`[^`\n]*`"
    rf"|(?<![\w/.:@<`-])(?P<bare>/(?:{_WORDS})\b(?:(?: (?:<[^<>\n]*>|\[[^\[\]\n]*\]|#?\d+))*))"
)


@dataclass(frozen=True)
class Phrasing:
    """Where a text is read: the platform, a campaign thread or a channel, and the campaign meant."""

    platform: str
    place: Place = "thread"
    campaign_ref: str | None = None  # the campaign a channel text is about: its short id

    @property
    def takes_campaign_flag(self) -> bool:
        return self.platform in CAMPAIGN_FLAG_PLATFORMS

    def command(self, line: str) -> str:
        """One command line (``vary 3 strong`` or ``/vary 3 strong``) as a person types it here."""
        words = line.strip().removeprefix("/")
        if self.platform != "slack":
            return "/" + words
        head = words.split(maxsplit=1)[0].lower() if words else ""
        if self.place == "thread" and head not in CHANNEL_WORDS:
            return f"{BOT_MENTION} {words}"
        if head in SLACK_OWN_COMMANDS:
            return "/" + words
        named = f" --campaign {self.campaign_ref}" if self.campaign_ref and head in CAMPAIGN_WORDS else ""
        return f"{SLACK_COMMAND} {words}{named}"

    def text(self, text: str) -> str:
        """``text`` with every command it mentions written as it is typed here."""
        if self.platform != "slack":
            return text
        return _MENTION.sub(self._rewrite, text)

    def _rewrite(self, found: re.Match[str]) -> str:
        line = found.group("code") or found.group("bare")
        if line is None:
            return found.group(0)
        meant = self
        if _IN_CHANNEL.match(found.string, found.end()):
            meant = Phrasing(platform=self.platform, place="channel")
        written = meant.command(line)
        return f"`{written}`" if found.group("code") is not None else written


def for_thread(platform: str) -> Phrasing:
    return Phrasing(platform=platform, place="thread")


def for_channel(platform: str, campaign_ref: str | None = None) -> Phrasing:
    return Phrasing(platform=platform, place="channel", campaign_ref=campaign_ref)


def short_id(campaign_id: str) -> str:
    """How texts and ``--campaign`` name a campaign."""
    return campaign_id[:6]


def phrased(effects: list[Effect], thread: Phrasing, replies: Phrasing) -> list[Effect]:
    """``effects`` with their texts phrased: posts and the status line for the thread, replies for
    where the person acted."""
    out: list[Effect] = []
    for e in effects:
        if isinstance(e, Reply):
            e = e.model_copy(update={"text": replies.text(e.text)})
        elif isinstance(e, UpdateStatus):
            e = e.model_copy(update={"text": thread.text(e.text)})
        elif isinstance(e, Post):
            e = e.model_copy(
                update={"message": e.message.model_copy(update={"text": thread.text(e.message.text)})}
            )
        out.append(e)
    return out
