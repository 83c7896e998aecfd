"""/deliver: which images a campaign delivers (its finals) and their lineage, as data.

The zip itself is made by the use case (``bot.usecases.deliver``): packing files is I/O. Once it is
stored, the ``Packed`` event records the delivery and posts it through the outbox like any other post.
"""

from __future__ import annotations

from typing import Any

from bot.core import render
from bot.core.commands import Deliver
from bot.core.effects import Effect, Post, Reply, UpdateStatus
from bot.core.events import Packed
from bot.core.messages import Message, MessageKind
from bot.core.model import Campaign, Candidate, User
from bot.core.transitions.base import Refused
from engine.api import JobKind

FINAL_KINDS = frozenset(
    {JobKind.REFINE, JobKind.INPAINT, JobKind.OUTPAINT, JobKind.RESTORE_FACES, JobKind.UPSCALE}
)

LINEAGE_NAME = "lineage.json"

NOTHING_YET = (
    "Nothing to deliver yet: /deliver packs refined, edited and upscaled images. "
    "Refine a draft first, e.g. `/refine 3`."
)


def finals(c: Campaign) -> list[Candidate]:
    """The refined, edited and upscaled images that exist, by number."""
    return [cand for _, cand in sorted(c.candidates.items()) if cand.stage in FINAL_KINDS and cand.artifact]


def lineage(c: Campaign, delivered: list[Candidate]) -> dict[str, Any]:
    """The delivered images and every image they came from (parents up to the first draft)."""
    wanted: dict[int, Candidate] = {}
    for cand in delivered:
        current: Candidate | None = cand
        while current is not None and current.number not in wanted:
            wanted[current.number] = current
            current = c.candidates.get(current.parent) if current.parent is not None else None
    return {
        "campaign": c.id,
        "prompt": c.settings.prompt,
        "owner": c.owner,
        "delivered": [cand.number for cand in delivered],
        "images": [cand.model_dump(mode="json", exclude={"job_id"}) for _, cand in sorted(wanted.items())],
        "device_seconds": round(c.spent_seconds(), 3),
    }


def deliver(c: Campaign, cmd: Deliver, user: User, now: float) -> list[Effect]:
    """Read-only: refuses when there is nothing final yet, else says what will be packed."""
    delivered = finals(c)
    if not delivered:
        raise Refused(NOTHING_YET)
    numbers = ", ".join(f"#{cand.number}" for cand in delivered)
    return [Reply(text=f"Packing {len(delivered)} final{'s' if len(delivered) != 1 else ''}: {numbers}.")]


def delivery_message(c: Campaign, packed: Packed) -> Message:
    numbers = ", ".join(f"#{n}" for n in packed.numbers)
    count = len(packed.numbers)
    text = (
        f"Delivery for {packed.user.name or packed.user.id}: {count} final{'s' if count != 1 else ''} "
        f"({numbers}) in {packed.zip_file.name}, with a contact sheet and {LINEAGE_NAME}. Each PNG carries "
        "its recipe (prompt, seed, model, steps, sampler, parent) in its text chunks."
    )
    return Message(kind=MessageKind.TEXT, campaign_id=c.id, text=text, files=[packed.zip_file, packed.sheet])


def packed(c: Campaign, event: Packed, now: float) -> list[Effect]:
    """The package is stored: note what was delivered and post it (a new version every time, so every
    delivery's post is saved in the outbox and retried until it is shown)."""
    c.deliverables = list(event.numbers)
    c.deliveries += 1
    return [Post(message=delivery_message(c, event)), UpdateStatus(text=render.status_line(c, now))]
