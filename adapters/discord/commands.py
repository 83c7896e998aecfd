"""The slash commands: one per grammar command, with the grammar's option names and descriptions.

Each command only collects its option values and hands them to the runner (``DiscordAdapter.run_command``),
which defers the interaction, reads attachments and goes through ``grammar.parse_options`` like every adapter.
Values are checked by the grammar, not by Discord, so a bad value is answered naming the flag.
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import discord
from discord import app_commands

from bot.core import grammar

F = TypeVar("F", bound=Callable[..., Awaitable[None]])
Interaction = discord.Interaction[Any]
Attachment = discord.Attachment
CommandRunner = Callable[[Interaction, str, dict[str, Any]], Awaitable[None]]


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


def register(tree: app_commands.CommandTree[Any], run_command: CommandRunner) -> None:
    """Add every slash command to ``tree``; each hands its name and option values to ``run_command``."""

    async def run(interaction: Interaction, name: str, values: dict[str, Any]) -> None:
        # locals() of a command body: its options, plus ``interaction`` and the ``run`` closure
        options = {k: v for k, v in values.items() if k not in ("interaction", "run")}
        await run_command(interaction, name, options)

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
        model: str | None = None,
    ) -> None:
        await run(interaction, "settings", dict(locals()))

    @tree.command(name="deliver", description=summary("deliver"))
    async def deliver(interaction: Interaction) -> None:
        await run(interaction, "deliver", {})

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


def _same(wanted: Any, existing: Any) -> bool:
    """``wanted`` (what the bot would register) equals what Discord has: only the keys the bot sends
    are compared, and an absent, null, false or empty value equals any other of those."""
    if not wanted and not existing:
        return True
    if isinstance(wanted, dict) and isinstance(existing, dict):
        return all(_same(value, existing.get(key)) for key, value in wanted.items())
    if isinstance(wanted, list) and isinstance(existing, list):
        pairs = zip(wanted, existing, strict=False)
        return len(wanted) == len(existing) and all(_same(w, e) for w, e in pairs)
    if isinstance(wanted, int | float) and isinstance(existing, str):
        return str(wanted) == existing  # Discord sends permission bit sets as strings
    return bool(wanted == existing)


def same_commands(wanted: list[dict[str, Any]], existing: list[dict[str, Any]]) -> bool:
    """Whether Discord already has exactly these commands (by name, in any order)."""
    by_name = {str(c.get("name")): c for c in existing}
    return len(by_name) == len(wanted) and all(_same(c, by_name.get(str(c.get("name")))) for c in wanted)


async def sync_if_changed(tree: app_commands.CommandTree[Any], guild: discord.abc.Snowflake | None) -> bool:
    """Register the commands in ``guild`` (or globally) unless Discord already has the same table, so
    replicas starting together do not each re-register them; True when they were registered."""
    client = tree.client
    if client.application_id is None:
        raise app_commands.MissingApplicationID
    wanted = [command.to_dict(tree) for command in tree.get_commands(guild=guild)]
    if guild is None:
        existing: Any = await client.http.get_global_commands(client.application_id)
    else:
        existing = await client.http.get_guild_commands(client.application_id, guild.id)
    if same_commands(wanted, existing):
        return False
    await tree.sync(guild=guild)
    return True
