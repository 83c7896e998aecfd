"""Persistent Discord buttons: a ``DynamicItem`` whose custom id is the bot's action id."""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from typing import Any

import discord

# ``dl:<action>:<campaign>:<number>[:arg]``, at most 100 characters (Discord's limit for a custom id)
ACTION_TEMPLATE = (
    r"dl:(?P<action>[a-z][a-z0-9-]*):(?P<campaign>[A-Za-z0-9_-]+):(?P<number>\d+)(?::(?P<arg>[^:]+))?"
)
ButtonHandler = Callable[[discord.Interaction[Any], str], Awaitable[None]]


class ActionButton(discord.ui.DynamicItem[discord.ui.Button[Any]], template=ACTION_TEMPLATE):
    """A button whose custom id is an action id; it works for any message, after any restart.

    A press is handed to the client's ``on_action_button(interaction, action_id)``.
    """

    def __init__(self, label: str, action_id: str, row: int | None = None) -> None:
        super().__init__(
            discord.ui.Button(label=label[:80], custom_id=action_id, style=discord.ButtonStyle.secondary),
            row=row,
        )
        self.action_id = action_id

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction[Any], item: discord.ui.Item[Any], match: re.Match[str], /
    ) -> ActionButton:
        label = getattr(item, "label", None) or match["action"]
        return cls(label, match.string)

    async def callback(self, interaction: discord.Interaction[Any]) -> None:
        handler: ButtonHandler | None = getattr(interaction.client, "on_action_button", None)
        if handler is not None:
            await handler(interaction, self.action_id)
