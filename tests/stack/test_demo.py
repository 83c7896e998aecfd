"""`draftloop demo` runs the whole loop on the real stack and leaves every stage's images behind."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image

from bot.core.ledger import summarize
from bot.core.model import Campaign
from engine.api import JobKind

pytestmark = pytest.mark.slow


def test_demo_writes_every_stage(tmp_path: Path) -> None:
    out = tmp_path / "demo"
    env = {
        k: v for k, v in os.environ.items() if k not in ("REDIS_URL", "DRAFTLOOP_MODEL", "DRAFTLOOP_DATA_DIR")
    }
    env["HF_HUB_OFFLINE"] = "1"
    done = subprocess.run(
        [sys.executable, "-m", "bot.cli", "demo", "--out", str(out)],
        env=env,
        capture_output=True,
        text=True,
        timeout=1500,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    doc = json.loads((out / "campaign.json").read_text())
    stages = doc["stages"]
    assert len(stages["draft"]) == 8
    for name in ("refine", "inpaint", "outpaint", "upscale"):
        assert len(stages[name]) == 1, name
        assert list((out / name).glob("*.png")), f"no {name} image on disk"
    assert len(list((out / "draft").glob("*.png"))) == 8

    candidates = {int(k): v for k, v in doc["campaign"]["candidates"].items()}
    winner = stages["vote"][0]
    refined = candidates[stages["refine"][0]]
    # the team's pick survives: refine keeps the winner's seed, and every edit descends from it
    assert refined["parent"] == winner and refined["seed"] == candidates[winner]["seed"]
    inpainted, outpainted, upscaled = (candidates[stages[s][0]] for s in ("inpaint", "outpaint", "upscale"))
    assert inpainted["parent"] == stages["refine"][0]
    assert outpainted["parent"] == stages["inpaint"][0]
    assert upscaled["parent"] == stages["outpaint"][0]
    assert outpainted["width"] > inpainted["width"] and outpainted["height"] > inpainted["height"]
    assert (upscaled["width"], upscaled["height"]) == (outpainted["width"] * 4, outpainted["height"] * 4)
    up_png = next((out / "upscale").glob("*.png"))
    assert Image.open(up_png).size == (upscaled["width"], upscaled["height"])
    # two of three voters picked the winner
    assert len(doc["votes_round_1"][str(winner)]) == 2
    assert doc["campaign"]["stage"] == "done"
    assert doc["ledger_total_device_seconds"] > 0
    # honest metering: loading models is charged to no job, so a draft costs less than a refined image,
    # and drafting first saved time against making every draft at full quality
    summary = summarize(Campaign.model_validate(doc["campaign"]))
    drafts, refines = summary.by_kind[JobKind.DRAFT], summary.by_kind[JobKind.REFINE]
    assert drafts.seconds / drafts.images < refines.seconds / refines.images
    assert summary.saved_seconds > 0
    page = (out / "index.html").read_text()
    assert page.count("<img") == 12
