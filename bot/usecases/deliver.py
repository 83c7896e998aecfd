"""/deliver: the campaign's finals in one zip, with a contact sheet and the lineage, posted in its thread.

The zip holds each final as the engine wrote it (its recipe in the PNG's text chunks), one contact sheet
(every final with its number, stage and seed) and ``lineage.json`` (the finals and every image they came
from). Zip and sheet go into the artifact store, so every platform's presenter can upload them, or link
to the full file where it is over the platform's upload limit.
"""

from __future__ import annotations

import asyncio
import io
import json
import re
import zipfile

from PIL import Image, ImageDraw

from bot.core import machine
from bot.core.commands import Deliver
from bot.core.effects import Reply
from bot.core.events import CommandEvent, Packed
from bot.core.messages import MessageFile
from bot.core.model import Campaign, Candidate, User
from bot.core.transitions.deliver import LINEAGE_NAME, finals, lineage
from bot.usecases.context import UseCaseContext
from bot.usecases.cycle import apply_event
from engine.artifacts import ArtifactStore

SHEET_TILE = 256
SHEET_COLUMNS = 4
SHEET_CAPTION = 20
SHEET_NAME = "contact-sheet.png"


def slug(text: str, most: int = 40) -> str:
    words = re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")
    return words[:most].rstrip("-") or "campaign"


def final_name(cand: Candidate) -> str:
    return f"{cand.number:03d}-{cand.stage.value}-seed{cand.seed}.png"


def contact_sheet(images: list[tuple[Candidate, bytes]]) -> bytes:
    """Every final as a tile (fitted into SHEET_TILE px) with ``#n stage · seed`` under it."""
    columns = max(1, min(SHEET_COLUMNS, len(images)))
    rows = (len(images) + columns - 1) // columns
    cell_h = SHEET_TILE + SHEET_CAPTION
    sheet = Image.new("RGB", (columns * SHEET_TILE, max(1, rows) * cell_h), (24, 24, 28))
    draw = ImageDraw.Draw(sheet)
    for index, (cand, data) in enumerate(images):
        with Image.open(io.BytesIO(data)) as opened:
            tile = opened.convert("RGB")
        tile.thumbnail((SHEET_TILE, SHEET_TILE), Image.Resampling.LANCZOS)
        left, top = (index % columns) * SHEET_TILE, (index // columns) * cell_h
        sheet.paste(tile, (left + (SHEET_TILE - tile.width) // 2, top + (SHEET_TILE - tile.height) // 2))
        caption = f"#{cand.number} {cand.stage.value} · seed {cand.seed} · {cand.width}x{cand.height}"
        draw.text((left + 6, top + SHEET_TILE + 4), caption, fill=(235, 235, 235))
    out = io.BytesIO()
    sheet.save(out, format="PNG")
    return out.getvalue()


def pack(artifacts: ArtifactStore, campaign: Campaign, delivered: list[Candidate], user: User) -> Packed:
    """Build the zip and the contact sheet and store both (blocking: run it in a thread)."""
    images = [(cand, artifacts.get(cand.artifact)) for cand in delivered]
    sheet = contact_sheet(images)
    record = lineage(campaign, delivered)
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as archive:
        for cand, data in images:
            archive.writestr(final_name(cand), data, compress_type=zipfile.ZIP_STORED)  # PNG: compressed
        archive.writestr(SHEET_NAME, sheet, compress_type=zipfile.ZIP_STORED)
        archive.writestr(LINEAGE_NAME, json.dumps(record, indent=2), compress_type=zipfile.ZIP_DEFLATED)
    data = buf.getvalue()
    base = f"{slug(campaign.settings.prompt)}-{campaign.id[:8]}"
    zip_file = MessageFile(
        name=f"{base}-finals.zip", artifact=artifacts.put(data), size=len(data), media_type="application/zip"
    )
    sheet_file = MessageFile(
        name=f"{base}-{SHEET_NAME}", artifact=artifacts.put(sheet), size=len(sheet), media_type="image/png"
    )
    return Packed(user=user, zip_file=zip_file, sheet=sheet_file, numbers=[cand.number for cand in delivered])


async def deliver(ctx: UseCaseContext, campaign: Campaign, user: User, command: Deliver) -> list[str]:
    """Post the delivery in the campaign's thread; the replies for the person who asked."""
    _, effects = machine.apply(campaign, CommandEvent(user=user, command=command), ctx.clock())
    refused = [e.text for e in effects if isinstance(e, Reply) and e.error]
    if refused:
        return refused
    package = await asyncio.to_thread(pack, ctx.artifacts, campaign, finals(campaign), user)
    await apply_event(ctx, campaign.id, package, user=user)
    return [e.text for e in effects if isinstance(e, Reply)]
