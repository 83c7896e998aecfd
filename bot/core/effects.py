"""What the service must do after a transition: the outputs of ``machine.apply``."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

from bot.core.messages import Message
from engine.api import Job


class _Effect(BaseModel):
    model_config = ConfigDict(frozen=True)


class Enqueue(_Effect):
    job: Job


class CancelJobs(_Effect):
    job_ids: tuple[str, ...]


class Post(_Effect):
    """Post a new message in the campaign's thread."""

    message: Message


class UpdateStatus(_Effect):
    """Edit the campaign's one status line in place."""

    text: str


class Reply(_Effect):
    """Answer the person who acted (ephemeral where the platform allows it)."""

    text: str
    error: bool = False


class OpenVoting(_Effect):
    """Voting opened on a round: the service stores the deadline in the deadline set."""

    round_no: int
    deadline: float


class CloseVoting(_Effect):
    round_no: int


Effect = Enqueue | CancelJobs | Post | UpdateStatus | Reply | OpenVoting | CloseVoting
