"""The page `draftloop demo` writes: what the scripted campaign did, stage by stage, in plain words."""

from __future__ import annotations

import html

from bot.core.model import Campaign, Candidate

STAGE_TITLES = {
    "draft": "Drafts (round 1, cheap draft preset)",
    "refine": "Refined: the winner at the final preset, same seed",
    "inpaint": "Inpainted: a box repainted",
    "outpaint": "Outpainted: zoomed out 1.5×",
    "upscale": "Upscaled ×4 with face restore",
}
STAGE_VERBS = {"refine": "refined", "inpaint": "inpainted", "outpaint": "outpainted", "upscale": "upscaled"}

STYLE = """
body{font:15px/1.5 system-ui,sans-serif;margin:0;background:#131318;color:#ececf1}
main{max-width:1100px;margin:0 auto;padding:24px 18px 48px}
h1{margin:0 0 4px;font-size:24px}h2{font-size:17px;margin:28px 0 10px}
.prompt{font-size:17px;color:#c9c8ff;margin:0 0 16px}
dl{display:grid;grid-template-columns:max-content 1fr;gap:4px 16px;margin:0}dt{color:#9b9aae}dd{margin:0}
.note{color:#9b9aae;font-size:13px;border-left:3px solid #5b5bd6;padding-left:10px}
.row{display:grid;grid-template-columns:repeat(auto-fill,minmax(170px,1fr));gap:12px}
figure{margin:0;background:#1d1d25;border-radius:10px;padding:8px}
img{display:block;width:100%;height:auto;image-rendering:pixelated;border-radius:6px}
figcaption{font-size:12.5px;color:#b4b3c4;margin-top:6px}.win{color:#ffd666;font-weight:600}
""".strip()


def numbers_text(numbers: list[int]) -> str:
    marked = [f"#{n}" for n in numbers]
    if len(marked) <= 1:
        return "".join(marked) or "none"
    return ", ".join(marked[:-1]) + " and " + marked[-1]


def people(count: int) -> str:
    return f"{count} vote{'s' if count != 1 else ''}"


def vote_text(winners: list[int], votes: dict[int, list[str]]) -> str:
    """``#3 won with 2 votes (ana, ben); #6 got 1 vote (chloe).``"""
    parts = []
    for n in winners:
        voters = votes.get(n, [])
        parts.append(f"{numbers_text([n])} won with {people(len(voters))} ({', '.join(voters)})")
    for n, voters in sorted(votes.items(), key=lambda item: (-len(item[1]), item[0])):
        if n not in winners and voters:
            parts.append(f"#{n} got {people(len(voters))} ({', '.join(voters)})")
    return "; ".join(parts) + "." if parts else "no votes."


def path_text(made: dict[str, list[int]]) -> str:
    """``8 drafts → refined #9 → inpainted #10 → …``"""
    steps = [f"{len(made.get('draft', []))} drafts"]
    steps += [f"{verb} {numbers_text(made[stage])}" for stage, verb in STAGE_VERBS.items() if made.get(stage)]
    return " → ".join(steps)


def caption(c: Candidate, winners: list[int]) -> str:
    text = f"#{c.number} · seed {c.seed} · {c.preset} · {c.width}×{c.height}"
    if c.parent:
        text += f" · from #{c.parent}"
    win = ' <span class="win">★ winner</span>' if c.number in winners else ""
    return html.escape(text) + win


def demo_page(
    campaign: Campaign,
    made: dict[str, list[int]],
    votes: dict[int, list[str]],
    image_paths: dict[int, str],
    tiny_model: bool,
) -> str:
    """The whole HTML document; ``image_paths``: candidate number → the image file, relative to the page."""
    winners = made.get("vote", [])
    sections = []
    for stage, title in STAGE_TITLES.items():
        figures = [
            f'<figure><img src="{html.escape(image_paths[n])}" alt="#{n}">'
            f"<figcaption>{caption(campaign.candidates[n], winners)}</figcaption></figure>"
            for n in made.get(stage, [])
            if n in image_paths
        ]
        if figures:
            sections.append(f"<h2>{html.escape(title)}</h2><div class=row>{''.join(figures)}</div>")
    note = (
        '<p class="note">Made with the tiny random-weight offline model: the pictures are noise (and '
        "face restore repaints whatever its random detector calls a face); the stages, sizes, seeds, "
        "votes and lineage are real. Set DRAFTLOOP_MODEL to a real model for real pictures.</p>"
        if tiny_model
        else ""
    )
    facts = (
        f"<dt>Round 1 vote</dt><dd>{html.escape(vote_text(winners, votes))}</dd>"
        f"<dt>Path</dt><dd>{html.escape(path_text(made))}</dd>"
        f"<dt>Device time</dt><dd>{campaign.spent_seconds():.2f} s in {len(campaign.ledger)} jobs</dd>"
        f"<dt>Campaign</dt><dd>{html.escape(campaign.id)} · {html.escape(campaign.stage.value)}</dd>"
    )
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>draftloop demo</title><style>{STYLE}</style></head><body><main>"
        f'<h1>draftloop demo</h1><p class="prompt">{html.escape(campaign.settings.prompt)}</p>'
        f"<dl>{facts}</dl>{note}{''.join(sections)}</main></body></html>"
    )
