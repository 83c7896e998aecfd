"""The slash commands: one per grammar command, with the grammar's option names and descriptions.

Each command only collects its option values and hands them to ``DiscordAdapter.run_command``, which
defers the interaction, reads attachments and goes through ``grammar.parse_options`` like every adapter.
Values are checked by the grammar, not by Discord, so a bad value is answered naming the flag.
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, TypeVar

import discord
from discord import app_commands

from bot.core import grammar

if TYPE_CHECKING:
    from adapters.discord.client import DiscordAdapter

F = TypeVar("F", bound=Callable[..., Awaitable[None]])
Interaction = discord.Interaction[Any]
Attachment = discord.Attachment


def _spec(word: str) -> grammar.CommandSpec:
    return next(c for c in grammar.COMMANDS if c.words == (word,))


def summary(word: str) -> str:
    return _spec_summary((word,))


def _spec_summary(words: tuple[str, ...]) -> str:
    text = next(c for c in grammar.COMMANDS if c.words == words).summary
    return (text[:1].upper() + text[1:])[:100]


def described(word: str) -> Callable[[F], F]:
    """Option descriptions from the grammar table, for the options the function declares."""
    spec = _spec(word)
    helps = {a.key: grammar.ARGS[a.key].help for a in spec.args}
    helps.update({k: grammar.FLAGS[k].help for k in spec.flags})

    def decorate(func: F) -> F:
        names = set(inspect.signature(func).parameters) - {"interaction"}
        found = {k: v[:100] for k, v in helps.items() if k in names}
        return app_commands.describe(**found)(func)

    return decorate


def register(tree: app_commands.CommandTree[Any], adapter: DiscordAdapter) -> None:
    """Add every slash command to ``tree``."""

    async def run(interaction: Interaction, name: str, values: dict[str, Any]) -> None:
        # locals() of a command body: its options, plus ``interaction`` and the ``run`` closure
        options = {k: v for k, v in values.items() if k not in ("interaction", "run")}
        await adapter.run_command(interaction, name, options)

    @tree.command(name="draft", description=summary("draft"))
    @described("draft")
    async def draft(
        interaction: Interaction,
        prompt: str,
        n: int | None = None,
        ar: str | None = None,
        no: str | None = None,
        seed: int | None = None,
        preset: str | None = None,
        model: str | None = None,
        steps: int | None = None,
        cfg: float | None = None,
        lora: str | None = None,
        sref: Attachment | None = None,
        sw: float | None = None,
        cref: Attachment | None = None,
        image: Attachment | None = None,
        strength: float | None = None,
        sketch: Attachment | None = None,
        control: str | None = None,
        vote: str | None = None,
        quorum: int | None = None,
        top: int | None = None,
    ) -> None:
        await run(interaction, "draft", dict(locals()))

    @tree.command(name="vary", description=summary("vary"))
    @described("vary")
    async def vary(interaction: Interaction, number: int, strength: str | None = None) -> None:
        await run(interaction, "vary", dict(locals()))

    @tree.command(name="reroll", description=summary("reroll"))
    async def reroll(interaction: Interaction) -> None:
        await run(interaction, "reroll", {})

    @tree.command(name="select", description=summary("select"))
    @described("select")
    async def select(interaction: Interaction, numbers: str) -> None:
        await run(interaction, "select", dict(locals()))

    @tree.command(name="refine", description=summary("refine"))
    @described("refine")
    async def refine(
        interaction: Interaction, number: int | None = None, ar: str | None = None, preset: str | None = None
    ) -> None:
        await run(interaction, "refine", dict(locals()))

    @tree.command(name="inpaint", description=summary("inpaint"))
    @described("inpaint")
    async def inpaint(
        interaction: Interaction,
        number: int,
        prompt: str,
        box: str | None = None,
        faces: bool | None = None,
        mask: Attachment | None = None,
    ) -> None:
        await run(interaction, "inpaint", dict(locals()))

    @tree.command(name="outpaint", description=summary("outpaint"))
    @described("outpaint")
    async def outpaint(
        interaction: Interaction, number: int, zoom: float | None = None, pan: str | None = None
    ) -> None:
        await run(interaction, "outpaint", dict(locals()))

    @tree.command(name="upscale", description=summary("upscale"))
    @described("upscale")
    async def upscale(
        interaction: Interaction, number: int, scale: int | None = None, faces: bool | None = None
    ) -> None:
        await run(interaction, "upscale", dict(locals()))

    @tree.command(name="faces", description=summary("faces"))
    @described("faces")
    async def faces(interaction: Interaction, number: int) -> None:
        await run(interaction, "faces", dict(locals()))

    @tree.command(name="settings", description=summary("settings"))
    @described("settings")
    async def settings(
        interaction: Interaction,
        budget: str | None = None,
        quorum: int | None = None,
        vote: str | None = None,
        top: int | None = None,
        n: int | None = None,
        ar: str | None = None,
        preset: str | None = None,
    ) -> None:
        await run(interaction, "settings", dict(locals()))

    @tree.command(name="status", description=summary("status"))
    async def status(interaction: Interaction) -> None:
        await run(interaction, "status", {})

    @tree.command(name="cost", description=summary("cost"))
    async def cost(interaction: Interaction) -> None:
        await run(interaction, "cost", {})

    @tree.command(name="cancel", description=summary("cancel"))
    async def cancel(interaction: Interaction) -> None:
        await run(interaction, "cancel", {})

    schedule = app_commands.Group(name="schedule", description="Scheduled campaign threads (cron, UTC)")

    @schedule.command(name="add", description=_spec_summary(("schedule", "add")))
    @app_commands.describe(
        cron='five cron fields in UTC, e.g. "0 9 * * 1" (Mondays 09:00)',
        prompt="the draft's prompt, with any /draft flags (--n 4 --vote 4h ...)",
    )
    async def schedule_add(interaction: Interaction, cron: str, prompt: str) -> None:
        await run(interaction, "schedule add", {"cron": cron, "prompt": prompt})

    @schedule.command(name="list", description=_spec_summary(("schedule", "list")))
    async def schedule_list(interaction: Interaction) -> None:
        await run(interaction, "schedule list", {})

    @schedule.command(name="remove", description=_spec_summary(("schedule", "remove")))
    @app_commands.describe(id="the schedule's id, from /schedule list")
    async def schedule_remove(interaction: Interaction, id: str) -> None:
        await run(interaction, "schedule remove", {"id": id})

    tree.add_command(schedule)

    @tree.command(name="help", description=summary("help"))
    @described("help")
    async def help_(interaction: Interaction, topic: str | None = None) -> None:
        await run(interaction, "help", dict(locals()))
