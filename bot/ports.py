"""The narrow interface between the bot service and the chat adapters.

An adapter implements ``Presenter`` for its platform (how to show the bot's neutral messages) and calls
the service's ``handle_*`` methods for what users do. Nothing here knows any platform.
"""

from __future__ import annotations

from typing import Protocol

from bot.core.messages import Message
from bot.core.model import ThreadRef


class Presenter(Protocol):
    platform: str

    async def open_thread(self, channel_id: str, title: str, source_message_id: str | None) -> ThreadRef:
        """Open a campaign thread in a channel (a /draft typed in a plain channel)."""
        ...

    async def post(self, thread: ThreadRef, message: Message) -> str:
        """Show a message in the thread; returns the platform's message id."""
        ...

    async def update_status(self, thread: ThreadRef, campaign_id: str, text: str) -> None:
        """Edit the campaign's one status line in place (post it the first time)."""
        ...
