"""The narrow interface between the bot service and the chat adapters.

An adapter implements ``Presenter`` for its platform (how to show the bot's neutral messages) and calls
the service's ``handle_*`` methods for what users do. Nothing here knows any platform.
"""

from __future__ import annotations

import contextlib
import contextvars
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Literal, Protocol

from bot.core.messages import Message
from bot.core.model import ThreadRef


class MessageGone(Exception):
    """The message to edit no longer exists on the platform (deleted, or its thread is gone)."""


class RateLimited(Exception):
    """The platform asked to wait (HTTP 429): the caller retries this one call after ``retry_after``
    seconds instead of sleeping while it holds anything other work needs."""

    def __init__(self, retry_after: float, what: str = "") -> None:
        super().__init__(f"rate limited{f' on {what}' if what else ''}: retry after {retry_after:.1f} s")
        self.retry_after = retry_after


@dataclass(frozen=True)
class EditBudget:
    """How many status edits a platform accepts: ``edits`` per ``per_seconds``, counted per ``scope``
    (``"platform"``: one budget for the whole workspace; ``"thread"``: one per thread or channel)."""

    edits: int
    per_seconds: float
    scope: Literal["platform", "thread"] = "platform"


# What a presenter that declares no ``edit_budget`` gets: under Slack's ~50 chat.update per minute.
DEFAULT_EDIT_BUDGET = EditBudget(edits=40, per_seconds=60.0, scope="platform")


def edit_budget(presenter: object) -> EditBudget:
    """The presenter's ``edit_budget`` attribute, or the default."""
    budget = getattr(presenter, "edit_budget", None)
    return budget if isinstance(budget, EditBudget) else DEFAULT_EDIT_BUDGET


class PostLog(Protocol):
    """What of one post already went out. A post is a sequence of parts (each message, its uploads, each
    seeded reaction); a presenter records each part as it succeeds and skips the parts already done, so
    a retry resumes at the first part not done and nothing is shown twice."""

    async def done(self, part: str) -> str | None:
        """The platform id recorded for ``part`` (a message id; "1" for a part with no id), or None."""
        ...

    async def record(self, part: str, platform_id: str) -> None: ...

    async def vote_target(self, message_id: str) -> None:
        """Reactions on this message are votes on the post's round: call it as soon as such a message
        exists, before seeding its reactions."""
        ...


class Presenter(Protocol):
    platform: str

    async def open_thread(self, channel_id: str, title: str) -> ThreadRef:
        """Open a campaign thread in a channel (a /draft typed in a plain channel)."""
        ...

    async def post(self, thread: ThreadRef, message: Message, log: PostLog) -> str:
        """Show a message in the thread, part by part through ``log``; returns the platform's id of the
        message that carries its text (the last one, when long text is split)."""
        ...

    async def post_status(self, thread: ThreadRef, text: str) -> str:
        """Post a campaign's status line in the thread; returns the platform's message id."""
        ...

    async def edit_status(self, thread: ThreadRef, message_id: str, text: str) -> None:
        """Edit a status line posted by ``post_status``; raises ``MessageGone`` when it no longer exists."""
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
