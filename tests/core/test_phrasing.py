"""Every text the bot writes names only commands a person can type where the text is read."""

from __future__ import annotations

import re

import pytest

from bot.core import commands as cmds
from bot.core import phrasing
from bot.core.effects import Post, Reply, UpdateStatus
from bot.core.events import CloseRound, CommandEvent
from bot.core.grammar import help_text, parse
from bot.core.grammar.table import TOP_WORDS, TOPICS
from bot.core.machine import apply, new_campaign
from bot.core.model import Campaign, ThreadRef
from bot.core.phrasing import Phrasing
from tests.core.test_machine import ALLOWED, BUILDERS, OWNER, T0, built, finish, make_command

PLACES = [(p, place) for p in phrasing.PLATFORMS for place in ("thread", "channel")]
_SLASH = re.compile(r"(?<![\w/.:@<`-])/([a-z]+)\b")
_MENTION = re.compile(r"@draftloop ([a-z]+)")
_DL = re.compile(r"/dl ([a-z]+)")
_IN_CHANNEL = re.compile(r"[^`\n]*?`? in the channel")
BAD_LINES = (
    "/vary",
    "/vary 3 wild",
    "/outpaint 3 --zoom 9",
    "/upscale 3 3",
    "/inpaint 3 a scarf",
    "/select",
    "/frobnicate 3",
    "/schedule",
    "/help frob",
    "",
)


def assert_typeable(text: str, platform: str, place: str) -> None:
    """Each command ``text`` names exists on ``platform`` where ``place`` is."""
    slashes = [m for m in _SLASH.finditer(text)]
    if platform != "slack":
        assert "@draftloop" not in text and "/dl " not in text, text
        assert all(m.group(1) in TOP_WORDS for m in slashes), text
        return
    for m in slashes:
        assert m.group(1) in ("draft", "dl"), (m.group(0), text)
        if place == "thread" and m.group(1) == "draft":  # a new campaign, from the channel
            assert _IN_CHANNEL.match(text, m.end()), text
    for m in _DL.finditer(text):
        assert m.group(1) in TOP_WORDS, text
        assert place == "channel" or m.group(1) == "schedule", text
    for m in _MENTION.finditer(text):
        assert place == "thread" and m.group(1) in TOP_WORDS, text


def on(platform: str, c: Campaign) -> Campaign:
    thread = ThreadRef(platform=platform, channel_id="ch1", thread_id="th1")
    return c.model_copy(update={"thread": thread})


@pytest.mark.parametrize(("platform", "place"), PLACES)
def test_help_names_commands_that_exist_there(platform: str, place: str) -> None:
    phrase = Phrasing(platform, place)  # type: ignore[arg-type]
    for topic in (None, *TOPICS):
        assert_typeable(phrase.text(help_text(topic)), platform, place)


@pytest.mark.parametrize(("platform", "place"), PLACES)
def test_grammar_errors_give_examples_that_exist_there(platform: str, place: str) -> None:
    phrase = Phrasing(platform, place, "c1abcd" if place == "channel" else None)  # type: ignore[arg-type]
    for line in BAD_LINES:
        err = parse(line)
        assert isinstance(err, cmds.CommandError), line
        text = phrase.text(err.text())
        assert "Example: `" in text
        assert_typeable(text, platform, place)


@pytest.mark.parametrize("platform", phrasing.PLATFORMS)
@pytest.mark.parametrize("place", ["thread", "channel"])
def test_stage_refusals_name_commands_that_exist_there(platform: str, place: str) -> None:
    refused = 0
    for stage in BUILDERS:
        c = on(platform, built(stage))
        for kind in cmds.ALL_COMMAND_TYPES:
            if kind in ALLOWED[stage]:
                continue
            event = CommandEvent(user=OWNER, command=make_command(kind, c), place=place)  # type: ignore[arg-type]
            _, effects = apply(c, event, T0 + 100)
            (reply,) = effects
            assert isinstance(reply, Reply) and reply.error
            assert_typeable(reply.text, platform, place)
            refused += 1
    assert refused > 50


@pytest.mark.parametrize("platform", phrasing.PLATFORMS)
def test_a_round_with_no_winners_says_how_to_pick_in_words_that_exist_there(platform: str) -> None:
    c, effects = apply(on(platform, built("voting")), CloseRound(round_no=1, reason="deadline"), T0 + 2000)
    texts = [e.message.text for e in effects if isinstance(e, Post)]
    texts += [e.text for e in effects if isinstance(e, UpdateStatus)]
    assert texts and any("no votes" in t for t in texts)
    _, effects = apply(c, CommandEvent(user=OWNER, command=cmds.Refine()), T0 + 2001)
    (reply,) = effects
    assert isinstance(reply, Reply) and "no winners" in reply.text
    texts.append(reply.text)
    for text in texts:
        assert_typeable(text, platform, "thread")
    if platform == "slack":
        assert "@draftloop refine <n>" in reply.text
    else:
        assert "/refine <n>" in reply.text


def test_slack_writes_a_thread_command_as_a_mention_and_a_channel_one_through_dl() -> None:
    line = "/inpaint works on refined images: /refine <n> first. Example: `/vary 3 strong`"
    assert Phrasing("slack", "thread").text(line) == (
        "@draftloop inpaint works on refined images: @draftloop refine <n> first. "
        "Example: `@draftloop vary 3 strong`"
    )
    assert Phrasing("slack", "channel", "ab12cd").text(line) == (
        "/dl inpaint --campaign ab12cd works on refined images: /dl refine <n> --campaign ab12cd first. "
        "Example: `/dl vary 3 strong --campaign ab12cd`"
    )
    assert Phrasing("slack", "channel").command("select 2 5") == "/dl select 2 5"
    # /draft is Slack's own command in a channel; schedules belong to the channel wherever it is said
    assert Phrasing("slack", "channel", "ab12cd").command("/draft a fox") == "/draft a fox"
    assert Phrasing("slack", "thread").command("/draft a fox") == "@draftloop draft a fox"
    assert Phrasing("slack", "thread").command("/schedule list") == "/dl schedule list"
    said = "Start a new one with /draft in the channel; /cancel stops it."
    assert Phrasing("slack", "thread").text(said) == (
        "Start a new one with /draft in the channel; @draftloop cancel stops it."
    )


@pytest.mark.parametrize("platform", ["discord", "web"])
def test_discord_and_the_web_take_every_slash_command_anywhere(platform: str) -> None:
    line = "Pick with /refine <n> or `/vary 3 strong`; see https://example.com/vary."
    for phrase in (Phrasing(platform, "thread"), Phrasing(platform, "channel", "ab12cd")):
        assert phrase.text(line) == line
        assert phrase.command("vary 3") == "/vary 3"


def test_phrasing_twice_changes_nothing_more() -> None:
    text = help_text() + "\n" + "Pick with /refine <n>, /vary <n> or /draft in the channel."
    for platform, place in PLACES:
        phrase = Phrasing(platform, place, "ab12cd")  # type: ignore[arg-type]
        once = phrase.text(text)
        assert phrase.text(once) == once


def test_a_channel_reply_names_the_campaign_and_the_thread_sees_thread_commands() -> None:
    c = on("slack", built("voting"))
    event = CommandEvent(
        user=OWNER, command=cmds.Inpaint(number=2, prompt="a scarf", faces=True), place="channel"
    )
    _, effects = apply(c, event, T0 + 100)
    (reply,) = effects
    assert isinstance(reply, Reply)
    assert (
        "#2 is a draft: /dl inpaint --campaign c1 works on refined images. Refine it first with "
        "/dl refine 2 --campaign c1," in reply.text
    )
    _, effects = apply(
        c, CommandEvent(user=OWNER, command=cmds.Select(numbers=(2,)), place="channel"), T0 + 100
    )
    statuses = [e.text for e in effects if isinstance(e, UpdateStatus)]
    assert statuses and all("/dl" not in s for s in statuses)


@pytest.mark.parametrize("platform", phrasing.PLATFORMS)
def test_every_text_of_a_whole_loop_names_commands_that_exist_there(platform: str) -> None:
    thread = ThreadRef(platform=platform, channel_id="ch1", thread_id="th1")
    c = new_campaign("c1", thread, OWNER, T0)
    texts: list[str] = []

    def step(c: Campaign, event: CommandEvent | CloseRound, now: float) -> Campaign:
        c, effects = apply(c, event, now)
        c, more = finish(c, effects, now + 5)
        for e in [*effects, *more]:
            if isinstance(e, Post):
                texts.append(e.message.text)
                texts.extend(image.caption for image in e.message.images)
            elif isinstance(e, Reply | UpdateStatus):
                texts.append(e.text)
        return c

    def say(command: cmds.Command) -> CommandEvent:
        return CommandEvent(user=OWNER, command=command)

    c = step(c, say(cmds.Draft(prompt="a red fox", n=3, vote_seconds=600)), T0)
    c = step(c, CloseRound(round_no=1, reason="deadline"), T0 + 700)
    c = step(c, say(cmds.Vary(number=2)), T0 + 710)
    c = step(c, CloseRound(round_no=2, reason="quorum", tally={5: [("u", T0 + 720.0)]}), T0 + 730)
    n = max(c.candidates)
    edits: list[cmds.Command] = [
        cmds.Outpaint(number=n, zoom=2),
        cmds.Faces(number=n),
        cmds.Upscale(number=n),
    ]
    for command in [*edits, cmds.Status(), cmds.Cost(), cmds.SettingsCmd(), cmds.Cancel()]:
        c = step(c, say(command), T0 + 800)
    assert c.stage.value == "cancelled" and len(texts) > 15
    shown = "\n".join(texts)
    assert ("@draftloop refine <n>" if platform == "slack" else "/refine <n>") in shown
    for text in texts:
        assert_typeable(text, platform, "thread")
