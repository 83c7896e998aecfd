"""The narrow interface between the bot service and the chat adapters.

An adapter implements ``Presenter`` for its platform (how to show the bot's neutral messages) and calls
the service's ``handle_*`` methods for what users do. Nothing here knows any platform.
"""

from __future__ import annotations

import contextlib
import contextvars
from collections.abc import Iterator
from dataclasses import dataclass, field
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


@dataclass
class Acting:
    """Who is acting in the request being handled, and the threads their command opened."""

    user: str
    opened: list[ThreadRef] = field(default_factory=list)


class ActingScope:
    """Lets a presenter know whose request the service is handling (private posts go to that person).

    Each presenter keeps its own scope, so one platform's acting user is never another's.
    """

    def __init__(self, name: str) -> None:
        self._current: contextvars.ContextVar[Acting | None] = contextvars.ContextVar(name, default=None)

    @contextlib.contextmanager
    def enter(self, user: str) -> Iterator[Acting]:
        """Within this block ``get()`` is ``user``'s ``Acting``, which records the threads opened."""
        act = Acting(user=user)
        token = self._current.set(act)
        try:
            yield act
        finally:
            self._current.reset(token)

    def get(self) -> Acting | None:
        return self._current.get()
