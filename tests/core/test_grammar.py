"""The chat command grammar: what a user types, what the bot understands, what it answers."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.core.commands import (
    Cancel,
    Command,
    CommandError,
    Cost,
    Draft,
    Faces,
    Help,
    Inpaint,
    Outpaint,
    Refine,
    Reroll,
    ScheduleAdd,
    ScheduleList,
    ScheduleRemove,
    Select,
    SettingsCmd,
    Status,
    Upscale,
    Vary,
)
from bot.core.durations import format_duration, parse_duration
from bot.core.grammar import ARGS, COMMANDS, FLAGS, format_command, help_text, parse, parse_options
from engine.api import LoraSpec

MODEST = settings(max_examples=200, deadline=None)


def ok(line: str) -> Command:
    got = parse(line)
    assert not isinstance(got, CommandError), got
    return got


def bad(line: str) -> CommandError:
    got = parse(line)
    assert isinstance(got, CommandError), got
    return got


# --------------------------------------------------------------------------------------------- commands

COMMAND_EXAMPLES: list[tuple[str, Command]] = [
    (
        "/draft a red fox in snow --n 4 --ar 16:9 --no blurry, text --seed 42 --preset draft "
        "--lora inkstyle:0.8 --vote 30m --quorum 3 --top 2",
        Draft(
            prompt="a red fox in snow",
            n=4,
            aspect=(16, 9),
            negative="blurry, text",
            seed=42,
            preset="draft",
            loras=(LoraSpec(name="inkstyle", weight=0.8),),
            vote_seconds=1800,
            quorum=3,
            top=2,
        ),
    ),
    ("draft a fox", Draft(prompt="a fox")),
    ("/DRAFT   a   fox  ", Draft(prompt="a fox")),
    ('/draft "a  fox" in snow', Draft(prompt="a  fox in snow")),
    ("/draft a fox --n 4 with a hat", Draft(prompt="a fox with a hat", n=4)),
    (
        "/draft a mug --model sdxl-turbo --steps 30 --cfg 7.5 --lora ink --lora grain:-0.5 --sref a.png "
        "--sref b.png --sw 0.6 --cref hero.png --image mock.png --strength 0.4 --sketch s.png "
        "--control canny",
        Draft(
            prompt="a mug",
            model="sdxl-turbo",
            steps=30,
            cfg=7.5,
            loras=(LoraSpec(name="ink", weight=0.8), LoraSpec(name="grain", weight=-0.5)),
            sref=("a.png", "b.png"),
            sw=0.6,
            cref="hero.png",
            image="mock.png",
            strength=0.4,
            sketch="s.png",
            control="canny",
        ),
    ),
    ("/vary 3", Vary(number=3, strength="subtle")),
    ("/vary #3 strong", Vary(number=3, strength="strong")),
    ("/reroll", Reroll()),
    ("/select 2 5", Select(numbers=(2, 5))),
    ("/select #2,#5 2", Select(numbers=(2, 5))),
    ("/refine", Refine()),
    ("/refine 3 --ar 2:3 --preset final", Refine(number=3, aspect=(2, 3), preset="final")),
    (
        "/inpaint 3 a red scarf --box 40,60,200,120",
        Inpaint(number=3, prompt="a red scarf", box=(40, 60, 200, 120)),
    ),
    (
        "/inpaint 9 a red door --box 10%,20%,30%,40%",
        Inpaint(number=9, prompt="a red door", box_percent=(10.0, 20.0, 30.0, 40.0)),
    ),
    (
        "/inpaint 9 a red door --box 12.5%,0%,50%,100%",
        Inpaint(number=9, prompt="a red door", box_percent=(12.5, 0.0, 50.0, 100.0)),
    ),
    ("/settings novotes scores", SettingsCmd(no_votes="scores")),
    ("/inpaint 3 smiling --faces", Inpaint(number=3, prompt="smiling", faces=True)),
    ("/inpaint 3 a hat --mask m.png", Inpaint(number=3, prompt="a hat", mask="m.png")),
    ("/outpaint 3", Outpaint(number=3, zoom=1.5)),
    ("/outpaint 3 --zoom 2", Outpaint(number=3, zoom=2.0)),
    ("/outpaint 3 --pan left", Outpaint(number=3, pan="left")),
    ("/upscale 3", Upscale(number=3, scale=4)),
    ("/upscale 3 2 --faces", Upscale(number=3, scale=2, faces=True)),
    ("/upscale 3 2x", Upscale(number=3, scale=2)),
    ("/faces 7", Faces(number=7)),
    ("/status", Status()),
    ("/cost", Cost()),
    ("/cancel", Cancel()),
    ("/settings", SettingsCmd()),
    (
        "/settings budget 10m quorum 3 vote 1h30m top 2 n 6 ar 3:2 preset preview",
        SettingsCmd(
            budget_seconds=600.0, quorum=3, vote_seconds=5400, top=2, n=6, aspect=(3, 2), preset="preview"
        ),
    ),
    ("/settings --budget=90s --quorum 4", SettingsCmd(budget_seconds=90.0, quorum=4)),
    ("/settings budget none", SettingsCmd(clear_budget=True)),
    ("/settings quorum=5", SettingsCmd(quorum=5)),
    (
        '/schedule add "0 9 * * 1" a fox at dawn --n 4',
        ScheduleAdd(cron="0 9 * * 1", draft=Draft(prompt="a fox at dawn", n=4)),
    ),
    ("/schedule add 30 8 * * 1-5 a fox", ScheduleAdd(cron="30 8 * * 1-5", draft=Draft(prompt="a fox"))),
    ("/schedule list", ScheduleList()),
    ("/schedule remove a1b2c3", ScheduleRemove(schedule_id="a1b2c3")),
    ("/help", Help()),
    ("/help draft", Help(topic="draft")),
    ("/help schedule add", Help(topic="schedule add")),
    ("/help schedule", Help(topic="schedule")),
]


@pytest.mark.parametrize(("line", "expected"), COMMAND_EXAMPLES)
def test_each_command_parses_to_its_typed_command(line: str, expected: Command) -> None:
    assert parse(line) == expected
    assert parse(format_command(expected)) == expected


def test_every_help_example_works() -> None:
    text = help_text()
    for spec in COMMANDS:
        assert spec.example in text
        assert not isinstance(parse(spec.example), CommandError), spec.example


def test_every_flag_example_works_on_every_command_that_takes_it() -> None:
    for spec in COMMANDS:
        for key in spec.flags:
            example = FLAGS[key].example
            line = spec.flag_line(key)
            assert line.endswith(f"{spec.flag_word(key)} {example}".rstrip()), line
            assert not isinstance(parse(line), CommandError), line


# --------------------------------------------------------------------------------------------- flags

FLAG_VALUES: list[tuple[str, str, Any]] = [
    ("--n 1", "n", 1),
    ("--n 10", "n", 10),
    ("--n 30", "n", 30),
    ("--ar 1:4", "aspect", (1, 4)),
    ("--ar 21:9", "aspect", (21, 9)),
    ("--no blurry, low quality", "negative", "blurry, low quality"),
    ("--seed 0", "seed", 0),
    ("--seed 4294967295", "seed", 2**32 - 1),
    ("--preset FINAL", "preset", "final"),
    ("--model runwayml/sd-1.5", "model", "runwayml/sd-1.5"),
    ('--model "my model"', "model", "my model"),
    ("--steps 150", "steps", 150),
    ("--cfg 0", "cfg", 0.0),
    ("--cfg 30", "cfg", 30.0),
    ("--lora ink:2", "loras", (LoraSpec(name="ink", weight=2.0),)),
    ("--lora ink", "loras", (LoraSpec(name="ink", weight=0.8),)),
    ("--sref a --sref b --sref c --sref d", "sref", ("a", "b", "c", "d")),
    ("--sw 2", "sw", 2.0),
    ("--cref https://cdn.discordapp.com/x.png", "cref", "https://cdn.discordapp.com/x.png"),
    ("--image m.png", "image", "m.png"),
    ("--strength 1", "strength", 1.0),
    ("--sketch s.png", "sketch", "s.png"),
    ("--control lineart", "control", "lineart"),
    ("--vote 30s", "vote_seconds", 30),
    ("--vote 7d", "vote_seconds", 7 * 86400),
    ("--vote 45", "vote_seconds", 45 * 60),
    ("--vote 1h30m", "vote_seconds", 5400),
    ("--quorum 100", "quorum", 100),
    ("--top 5", "top", 5),
]


@pytest.mark.parametrize(("flag", "field", "value"), FLAG_VALUES)
def test_draft_flag_sets_its_field(flag: str, field: str, value: Any) -> None:
    cmd = ok(f"/draft a fox {flag}")
    assert getattr(cmd, field) == value
    assert cmd.prompt == "a fox"  # type: ignore[union-attr]
    name, _, rest = flag.partition(" ")
    if " " not in rest and not rest.startswith('"'):
        assert parse(f"/draft a fox {name}={rest}") == cmd


def test_em_dash_from_phone_keyboards_reads_as_a_flag() -> None:
    assert parse("/draft a fox —ar 16:9 –n 2") == Draft(prompt="a fox", aspect=(16, 9), n=2)


def test_no_takes_words_up_to_the_next_flag_and_quotes_keep_flags_literal() -> None:
    assert bad("/draft a fox --no text --n 2 --no x").flag == "--no"
    cmd = ok('/draft "--n is a band" --no="blurry text" grain --n 2')
    assert cmd == Draft(prompt="--n is a band", negative="blurry text grain", n=2)
    assert ok('/draft a 12" vinyl record').prompt == 'a 12" vinyl record'  # type: ignore[union-attr]
    assert ok("/draft “a  poster” of a fox").prompt == "a  poster of a fox"  # type: ignore[union-attr]


BAD_LINES: list[tuple[str, str, str]] = [
    # (line, flag named, a piece of the allowed values)
    ("/draft a fox --ar 16-9", "--ar", "W:H with each side 1-21 and the ratio within 1:4..4:1"),
    ("/draft a fox --ar 5:1", "--ar", "1:4..4:1"),
    ("/draft a fox --ar 22:21", "--ar", "1-21"),
    ("/draft a fox --n 0", "--n", "1-30"),
    ("/draft a fox --n 31", "--n", "1-30"),
    ("/draft a fox --top 6", "--top", "1-5"),
    ("/draft a fox --n four", "--n", "whole number"),
    ("/draft a fox --n 2.5", "--n", "whole number"),
    ("/draft a fox --seed -1", "--seed", "0-4294967295"),
    ("/draft a fox --seed 4294967296", "--seed", "0-4294967295"),
    ("/draft a fox --preset best", "--preset", "draft, draft-dpm, preview, final"),
    ("/draft a fox --steps 151", "--steps", "1-150"),
    ("/draft a fox --cfg 31", "--cfg", "0-30"),
    ("/draft a fox --cfg nan", "--cfg", "0-30"),
    ("/draft a fox --lora ink:3", "--lora", "-2..2"),
    ("/draft a fox --lora ink:heavy", "--lora", "NAME:WEIGHT"),
    ("/draft a fox --lora 'bad name'", "--lora", "NAME:WEIGHT"),
    ("/draft a fox --sw 2.1", "--sw", "0-2"),
    ("/draft a fox --strength 1.5", "--strength", "0-1"),
    ("/draft a fox --control depth", "--control", "canny, lineart"),
    ("/draft a fox --vote 10s", "--vote", "30s-7d"),
    ("/draft a fox --vote 8d", "--vote", "30s-7d"),
    ("/draft a fox --vote soon", "--vote", "30m"),
    ("/draft a fox --quorum 0", "--quorum", "1-100"),
    ("/draft a fox --top 11", "--top", "1-5"),
    ("/draft a fox --no", "--no", "text"),
    ("/draft a fox --n", "--n", "1-30"),
    ("/draft a fox --n --ar 16:9", "--n", "1-30"),
    ("/draft a fox --n=", "--n", "1-30"),
    ("/draft a fox --n 2 --n 3", "--n", "once"),
    ("/draft a fox --sref a --sref b --sref c --sref d --sref e", "--sref", "at most 4"),
    ("/draft a fox --bogus 3", "--bogus", "--ar"),
    ("/draft a fox --faces", "--faces", "--n"),
    ("/refine 3 --n 2", "--n", "--ar, --preset"),
    ("/refine 3 --ar 4:17", "--ar", "1:4..4:1"),
    ("/inpaint 3 a hat --box 1,2,3", "--box", "x,y,w,h"),
    ("/inpaint 3 a hat --box 1,2,0,4", "--box", "x,y,w,h"),
    ("/inpaint 3 a hat --box 10%,20%,30%", "--box", "percent"),
    ("/inpaint 3 a hat --box 80%,20%,30%,40%", "--box", "percent"),
    ("/inpaint 3 a hat --box 10%,20,30%,40%", "--box", "percent"),
    ("/inpaint 3 a hat --faces=yes", "--faces", "no value"),
    ("/inpaint 3 a hat", "--box", "exactly one of --box x,y,w,h, --faces or --mask"),
    ("/inpaint 3 a hat --faces --mask m.png", "--box", "exactly one of"),
    ("/outpaint 3 --zoom 1", "--zoom", "1.1-4"),
    ("/outpaint 3 --zoom 4.5", "--zoom", "1.1-4"),
    ("/outpaint 3 --pan sideways", "--pan", "left, right, up, down"),
    ("/outpaint 3 --pan left --zoom 2", "--pan", "can't be used together"),
    ("/settings budget forever", "budget", "none"),
    ("/settings quorum", "quorum", "1-100"),
    ("/settings vote 1s", "vote", "30s-7d"),
    ("/settings n 3 n 4", "n", "once"),
]


@pytest.mark.parametrize(("line", "flag", "allowed"), BAD_LINES)
def test_bad_flag_answers_name_the_flag_and_what_is_allowed(line: str, flag: str, allowed: str) -> None:
    err = bad(line)
    assert err.flag == flag
    assert flag in err.message
    assert allowed in err.message
    assert err.example and not isinstance(parse(err.example), CommandError)


BAD_ARGS: list[tuple[str, str]] = [
    ("/draft", "<prompt>"),
    ("/draft --n 4", "<prompt>"),
    ("/draft " + "x" * 1001, "1-1000"),
    ("/vary", "<n>"),
    ("/vary x", "candidate number 1-9999"),
    ("/vary 0", "candidate number 1-9999"),
    ("/vary 10000", "candidate number 1-9999"),
    ("/vary 3 wild", "subtle, strong"),
    ("/vary 3 strong again", "Unexpected 'again'"),
    ("/select", "<n...>"),
    ("/select 1 2 3 4 5 6 7 8 9 10 11", "up to 10"),
    ("/refine two", "candidate number"),
    ("/inpaint 3 --faces", "<prompt>"),
    ("/inpaint", "<n>"),
    ("/upscale 3 3", "2 or 4"),
    ("/faces", "<n>"),
    ("/status now", "Unexpected 'now'"),
    ("/schedule list --n 3", "takes no options"),
    ("/cost --n 3", "use --campaign"),
    ("/settings colour red", "the keys are budget, quorum, vote, top, n, ar, preset"),
    ('/schedule add "0 9 * *" a fox', "5 fields"),
    ('/schedule add "61 9 * * *" a fox', "5 fields"),
    ('/schedule add "0 9 * * 1"', "<prompt>"),
    ('/schedule add "0 9 * * 1" a fox --n 40', "1-30"),
    ("/schedule remove", "<id>"),
    ("/schedule remove a/b", "schedule id"),
    ("/schedule", "add, list, remove"),
    ("/schedule pause x", "add, list, remove"),
    ("/help drfat", "Did you mean /help draft?"),
    ("/help schedule pause", "There is no command 'schedule pause'"),
    ("/help 42", "a command name like draft or schedule add"),
    ("/help draft now please", "a command name"),
    ("/help --n 3", "takes no options"),
]


@pytest.mark.parametrize(("line", "expected"), BAD_ARGS)
def test_bad_arguments_say_what_is_missing_or_wrong(line: str, expected: str) -> None:
    err = bad(line)
    assert expected in err.message
    assert err.example and not isinstance(parse(err.example), CommandError)


def test_unknown_command_lists_the_commands_and_suggests_one() -> None:
    err = bad("/drat a fox")
    assert "Did you mean /draft?" in err.message
    for word in (
        "/draft",
        "/vary",
        "/reroll",
        "/select",
        "/refine",
        "/inpaint",
        "/outpaint",
        "/upscale",
        "/faces",
        "/status",
        "/cost",
        "/cancel",
        "/settings",
        "/schedule",
    ):
        assert word in err.message
    assert "/draft" in bad("").message
    assert "/draft" in bad("   /   ").message


# --------------------------------------------------------------------------------------------- slash options

OPTION_PAIRS: list[tuple[str, dict[str, Any], str]] = [
    ("draft", {"prompt": "a fox", "n": 4, "ar": "16:9"}, "/draft a fox --n 4 --ar 16:9"),
    ("draft", {"prompt": "a fox --ar 16:9", "n": 4}, "/draft a fox --n 4 --ar 16:9"),
    (
        "draft",
        {
            "prompt": "a fox",
            "no": "blurry, text",
            "seed": 42,
            "cfg": 7,
            "lora": "ink:0.5 grain",
            "sref": "a.png b.png",
            "vote": "1h",
            "quorum": 3,
            "top": 2,
            "preset": "draft",
            "model": None,
        },
        "/draft a fox --no blurry, text --seed 42 --cfg 7 --lora ink:0.5 --lora grain --sref a.png "
        "--sref b.png --vote 1h --quorum 3 --top 2 --preset draft",
    ),
    ("draft", {"prompt": "a fox", "negative": "text", "aspect": "2:3"}, "/draft a fox --no text --ar 2:3"),
    ("/vary", {"number": 3, "strength": "strong"}, "/vary 3 strong"),
    ("reroll", {}, "/reroll"),
    ("select", {"numbers": "2, 5"}, "/select 2 5"),
    ("select", {"numbers": 4}, "/select 4"),
    ("refine", {"number": 3, "preset": "final"}, "/refine 3 --preset final"),
    ("refine", {}, "/refine"),
    ("inpaint", {"number": 3, "prompt": "a hat", "faces": True}, "/inpaint 3 a hat --faces"),
    (
        "inpaint",
        {"number": 3, "prompt": "a hat", "box": "1,2,30,40", "faces": False},
        "/inpaint 3 a hat --box 1,2,30,40",
    ),
    ("outpaint", {"number": 2, "zoom": 2.0}, "/outpaint 2 --zoom 2"),
    ("outpaint", {"number": 2}, "/outpaint 2"),
    ("upscale", {"number": 3, "scale": 2, "faces": "true"}, "/upscale 3 2 --faces"),
    ("faces", {"number": 3}, "/faces 3"),
    ("settings", {"budget": "none", "quorum": 3, "vote": "30m"}, "/settings budget none quorum 3 vote 30m"),
    (
        "schedule add",
        {"cron": "0 9 * * 1", "prompt": "a fox", "n": 4},
        '/schedule add "0 9 * * 1" a fox --n 4',
    ),
    ("schedule_add", {"cron": "0 9 * * 1", "prompt": "a fox"}, '/schedule add "0 9 * * 1" a fox'),
    ("schedule", {"action": "remove", "id": "a1b2"}, "/schedule remove a1b2"),
    ("schedule", {"action": "list"}, "/schedule list"),
]


@pytest.mark.parametrize(("name", "options", "line"), OPTION_PAIRS)
def test_slash_options_give_the_same_command_as_inline_flags(
    name: str, options: dict[str, Any], line: str
) -> None:
    assert parse_options(name, options) == ok(line)


BAD_OPTIONS: list[tuple[str, dict[str, Any], str]] = [
    ("draft", {"prompt": "a fox", "n": 40}, "--n must be a whole number 1-30"),
    ("draft", {"prompt": "a fox", "n": True}, "--n must be a whole number 1-30"),
    ("draft", {"prompt": "a fox", "size": 3}, "no option 'size'"),
    ("draft", {"n": 3}, "needs <prompt>"),
    ("draft", {"prompt": "a fox --n 2", "n": 3}, "--n can be given once"),
    ("draft", {"prompt": "a fox", "ar": "16:9", "aspect": "2:3"}, "given twice"),
    ("vary", {"strength": "strong"}, "needs <n>"),
    ("upscale", {"number": 3, "faces": "maybe"}, "--faces"),
    ("paint", {"prompt": "a fox"}, "Did you mean /inpaint?"),
    ("schedule", {"cron": "0 9 * * 1", "prompt": "x"}, "add, list, remove"),
]


@pytest.mark.parametrize(("name", "options", "expected"), BAD_OPTIONS)
def test_bad_slash_options_get_the_same_kind_of_answer(
    name: str, options: dict[str, Any], expected: str
) -> None:
    err = parse_options(name, options)
    assert isinstance(err, CommandError)
    assert expected in err.message


# --------------------------------------------------------------------------------------------- printing


def test_format_quotes_prompt_text_that_would_read_as_flags() -> None:
    cmd = Draft(prompt="--ar 16:9 is my band", negative='say "hi"', n=2)
    line = format_command(cmd)
    assert line.startswith('/draft "--ar 16:9 is my band"')
    assert parse(line) == cmd
    assert format_command(Outpaint(number=3, zoom=1.5)) == "/outpaint 3 --zoom 1.5"
    assert format_command(SettingsCmd(clear_budget=True, quorum=2)) == "/settings budget none quorum 2"
    assert format_command(Draft(prompt="a fox", vote_seconds=5400)) == "/draft a fox --vote 1h30m"


TRICKY_TEXTS = [
    '"a" b',
    "end\\",
    '\\"',
    "“hi” there",
    "he said “hi”",
    "--n 3",
    "a —ar 2:1",
    "a\nb",
    "a  b",
    '"',
    '"x',
    'x"',
    '--no="a b"',
    "#3 #4",
    "n=4",
    'x \\" y',
]


@pytest.mark.parametrize("text", TRICKY_TEXTS)
def test_any_text_survives_printing_as_prompt_negative_or_reference(text: str) -> None:
    cmd = Draft(prompt=text, negative=text, model=text, sref=(text, "b.png"))
    assert parse(format_command(cmd)) == cmd
    inpaint = Inpaint(number=2, prompt=text, mask=text)
    assert parse(format_command(inpaint)) == inpaint


def test_durations() -> None:
    assert [parse_duration(t) for t in ("30s", "30m", "2h", "1d", "1h30m", "45", "1H", "")] == [
        30,
        1800,
        7200,
        86400,
        5400,
        2700,
        3600,
        None,
    ]
    assert parse_duration("1.5h") is None and parse_duration("m") is None and parse_duration("-5") is None
    assert [format_duration(s) for s in (30, 90, 3600, 5400, 90061)] == [
        "30s",
        "1m30s",
        "1h",
        "1h30m",
        "1d1h1m1s",
    ]


# --------------------------------------------------------------------------------------------- properties

# the characters that quoting and flags depend on, often, among any others
_TRICKY = st.one_of(st.sampled_from(list('"“”\\ -—–=\n\tna#')), st.characters())


def _junk() -> st.SearchStrategy[str]:
    return st.one_of(
        st.sampled_from(
            [
                "",
                "--",
                "-",
                "x:y",
                "16:9",
                "1:5",
                "#3",
                "0",
                "-1",
                "1e9",
                "nan",
                "none",
                '"',
                "“q”",
                '"a b"',
                "1,2,3,4",
                "30m",
                "1h30m",
                "ink:0.5",
                "—n",
                "--n=2",
                "\\",
                "strong",
                "2x",
                "0 9 * * 1",
                '"0 9 * * 1"',
                "left",
                "faces",
                "mask",
                "box",
            ]
        ),
        st.text(max_size=12),
        st.integers(-5, 200).map(str),
        st.floats(-3, 40, allow_nan=False).map(lambda f: f"{f:.2f}"),
    )


@st.composite
def plausible_lines(draw: st.DrawFn) -> str:
    """Lines built from the grammar's own table, mostly valid, with junk values and forms mixed in."""
    spec = draw(st.sampled_from(COMMANDS))
    mostly_valid = st.sampled_from([True, True, True, False])
    parts = [draw(st.sampled_from(["/", ""])) + " ".join(spec.words)]
    for a in spec.args:
        parts.append(ARGS[a.key].example if draw(mostly_valid) else draw(_junk()))
    for _ in range(draw(st.integers(0, 4 if spec.flags else 1))):
        own = bool(spec.flags) and draw(mostly_valid)
        keys: tuple[str, ...] = spec.flags if own else tuple(sorted(FLAGS))
        key = draw(st.sampled_from(keys))
        value = FLAGS[key].example if draw(mostly_valid) else draw(_junk())
        form = "{w} {v}" if draw(mostly_valid) else draw(st.sampled_from(["--{k}={v}", "{k} {v}", "--{k}"]))
        parts.append(form.format(w=spec.flag_word(key), k=key, v=value))
    return " ".join(parts)


def _check_any_answer(line: str) -> None:
    got = parse(line)
    assert isinstance(got, CommandError | Command)
    if isinstance(got, CommandError):
        assert got.message
        if got.example:
            assert not isinstance(parse(got.example), CommandError), got.example
    else:
        assert parse(format_command(got)) == got


@MODEST
@given(st.text() | st.text(_TRICKY))
def test_any_text_gets_a_command_or_an_answer(text: str) -> None:
    _check_any_answer(text)
    _check_any_answer("/draft " + text)


@MODEST
@given(plausible_lines())
def test_plausible_lines_get_a_command_or_an_answer_and_round_trip(line: str) -> None:
    _check_any_answer(line)


_WORD = st.from_regex(r"[a-z0-9,.!?']{1,10}", fullmatch=True)
_PLAIN_TEXT = st.lists(_WORD, min_size=1, max_size=8).map(" ".join)
_ANY_TEXT = st.text(_TRICKY, min_size=1, max_size=120).map(str.strip).filter(bool)
_REF = st.from_regex(r"[A-Za-z0-9_./:-]{1,40}", fullmatch=True)
_LORA = st.builds(
    LoraSpec,
    name=st.from_regex(r"[A-Za-z0-9_./-]{1,20}", fullmatch=True),
    weight=st.floats(-2, 2, allow_nan=False),
)
_ASPECT = st.tuples(st.integers(1, 21), st.integers(1, 21)).filter(
    lambda a: a[0] <= 4 * a[1] and a[1] <= 4 * a[0]
)


def drafts(text: st.SearchStrategy[str], ref: st.SearchStrategy[str]) -> st.SearchStrategy[Draft]:
    return st.builds(
        Draft,
        prompt=text,
        n=st.none() | st.integers(1, 30),
        aspect=st.none() | _ASPECT,
        negative=st.none() | text,
        seed=st.none() | st.integers(0, 2**32 - 1),
        preset=st.none() | st.sampled_from(["draft", "preview", "final"]),
        model=st.none() | ref,
        steps=st.none() | st.integers(1, 150),
        cfg=st.none() | st.floats(0, 30),
        loras=st.lists(_LORA, max_size=5).map(tuple),
        sref=st.lists(ref, max_size=4).map(tuple),
        sw=st.none() | st.floats(0, 2),
        cref=st.none() | ref,
        image=st.none() | ref,
        strength=st.none() | st.floats(0, 1),
        sketch=st.none() | ref,
        control=st.none() | st.sampled_from(["canny", "lineart"]),
        vote_seconds=st.none() | st.integers(30, 7 * 86400),
        quorum=st.none() | st.integers(1, 100),
        top=st.none() | st.integers(1, 5),
    )


@MODEST
@given(drafts(_ANY_TEXT, _ANY_TEXT))
def test_any_valid_draft_round_trips_through_its_command_line(cmd: Draft) -> None:
    assert parse(format_command(cmd)) == cmd
    sched = ScheduleAdd(cron="*/15 9-17 * * 1-5", draft=cmd)
    assert parse(format_command(sched)) == sched


def _options_of(cmd: Draft) -> dict[str, Any]:
    return {
        "prompt": cmd.prompt,
        "n": cmd.n,
        "ar": None if cmd.aspect is None else f"{cmd.aspect[0]}:{cmd.aspect[1]}",
        "no": cmd.negative,
        "seed": cmd.seed,
        "preset": cmd.preset,
        "model": cmd.model,
        "steps": cmd.steps,
        "cfg": cmd.cfg,
        "lora": " ".join(f"{lo.name}:{lo.weight!r}" for lo in cmd.loras) or None,
        "sref": " ".join(cmd.sref) or None,
        "sw": cmd.sw,
        "cref": cmd.cref,
        "image": cmd.image,
        "strength": cmd.strength,
        "sketch": cmd.sketch,
        "control": cmd.control,
        "vote": None if cmd.vote_seconds is None else f"{cmd.vote_seconds}s",
        "quorum": cmd.quorum,
        "top": cmd.top,
    }


@MODEST
@given(drafts(_PLAIN_TEXT, _REF))
def test_slash_options_and_the_printed_line_agree_for_any_draft(cmd: Draft) -> None:
    assert parse_options("draft", _options_of(cmd)) == cmd == parse(format_command(cmd))


@MODEST
@given(
    st.sampled_from(COMMANDS),
    st.dictionaries(
        st.sampled_from(
            [
                "prompt",
                "number",
                "numbers",
                "n",
                "ar",
                "no",
                "faces",
                "box",
                "cron",
                "id",
                "zoom",
                "pan",
                "budget",
                "scale",
                "strength",
                "action",
                "x",
            ]
        ),
        st.one_of(st.none(), st.booleans(), st.integers(-3, 20), st.floats(allow_nan=True), _junk()),
        max_size=5,
    ),
)
def test_any_slash_options_get_a_command_or_an_answer(spec: Any, options: dict[str, Any]) -> None:
    got = parse_options(" ".join(spec.words), options)
    if not isinstance(got, CommandError):
        assert parse(format_command(got)) == got
    else:
        assert got.message


def test_help_names_every_flag_with_an_example() -> None:
    text = help_text()
    for key, p in FLAGS.items():
        assert f"--{key}" in text
        if p.example:
            assert f"--{key} {p.example}" in text


# --------------------------------------------------------------------------------------------- help


@pytest.mark.parametrize(
    ("line", "topic"),
    [
        ("help", None),
        ("/help   ", None),
        ("/help /Draft", "draft"),
        ("/HELP Vary", "vary"),
        ("/help schedule_add", "schedule add"),
        ('/help "schedule   list"', "schedule list"),
        ("/help help", "help"),
    ],
)
def test_help_takes_a_command_name_in_any_usual_form(line: str, topic: str | None) -> None:
    assert parse(line) == Help(topic=topic)
    assert parse(format_command(Help(topic=topic))) == Help(topic=topic)


def test_help_prints_its_canonical_line() -> None:
    assert format_command(Help()) == "/help"
    assert format_command(Help(topic="schedule add")) == "/help schedule add"


def test_help_slash_options_give_the_same_command_as_the_inline_form() -> None:
    assert parse_options("help", {}) == Help()
    assert parse_options("/help", {"topic": None}) == Help()
    assert parse_options("help", {"topic": "draft"}) == parse("/help draft") == Help(topic="draft")
    assert parse_options("help", {"topic": "schedule add"}) == Help(topic="schedule add")
    err = parse_options("help", {"topic": "nope"})
    assert isinstance(err, CommandError) and "/draft" in err.message


def test_help_for_one_command_gives_its_usage_and_every_option() -> None:
    for spec in COMMANDS:
        text = help_text(" ".join(spec.words))
        assert text.startswith(spec.usage()), spec.title
        assert spec.example in text
        assert not isinstance(parse(spec.example), CommandError)
        for a in spec.args:
            assert ARGS[a.key].label in text
        for key in spec.flags:
            p = FLAGS[key]
            assert f"{spec.flag_word(key)} {p.example}".rstrip() in text, (spec.title, key)
        others = [c for c in COMMANDS if c.words[0] != spec.words[0]]
        assert not any(c.example in text for c in others if c.example != spec.example)


def test_help_for_a_first_word_covers_each_of_its_commands() -> None:
    text = help_text("schedule")
    for sub in ("add", "list", "remove"):
        assert f"/schedule {sub}" in text
    assert help_text("/Schedule_List") == help_text("schedule list")
    assert "budget 10m" in help_text("settings") and "--budget" not in help_text("settings")


def test_help_without_a_topic_is_the_summary_and_names_help() -> None:
    assert help_text() == help_text(None)
    assert "/help" in help_text() and "/help draft" in help_text()


def test_help_for_an_unknown_topic_still_answers_with_the_commands() -> None:
    for topic in ("nope", "", "x" * 500, "--n"):
        text = help_text(topic)
        assert "There is no command" in text and "/draft" in text and "/help" in text


def test_campaign_names_the_campaign_of_a_channel_command_in_every_form() -> None:
    typed = parse("/vary 3 strong --campaign red fox")
    assert typed == Vary(number=3, strength="strong", campaign="red fox")
    assert parse_options("vary", {"number": 3, "strength": "strong", "campaign": "red fox"}) == typed
    assert parse(format_command(typed)) == typed
    assert parse("/settings quorum 3 campaign a1b2c3") == SettingsCmd(quorum=3, campaign="a1b2c3")
    assert "--campaign REF" in help_text("vary") and "--campaign a1b2c3" in help_text()
    err = parse("/draft a fox --campaign a1b2c3")
    assert isinstance(err, CommandError) and "--campaign is not a /draft option" in err.message
