from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from engine.tiny import MARKER, TinyPaths, build_tiny_models


def _digest(folder: Path) -> dict[str, str]:
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file() and p.suffix in (".safetensors", ".json", ".txt", ".pth")
    }


def test_tiny_folder_has_every_part(tiny_models: TinyPaths) -> None:
    assert (tiny_models.root / MARKER).exists()
    assert (tiny_models.sd / "model_index.json").is_file()
    assert (tiny_models.sd / "tokenizer" / "vocab.json").is_file() or (
        tiny_models.sd / "tokenizer" / "tokenizer.json"
    ).is_file()
    assert (tiny_models.ip_adapter / "models" / "image_encoder" / "config.json").is_file()
    index = json.loads((tiny_models.sdxl / "model_index.json").read_text())
    assert index["_class_name"] == "StableDiffusionXLPipeline"
    assert index["text_encoder_2"] == ["transformers", "CLIPTextModelWithProjection"]
    unet = json.loads((tiny_models.sdxl / "unet" / "config.json").read_text())
    assert unet["addition_embed_type"] == "text_time"
    assert (
        json.loads((tiny_models.sdxl_controlnet / "config.json").read_text())["addition_embed_type"]
        == "text_time"
    )
    assert (tiny_models.sdxl_ip_adapter / "sdxl_models" / "image_encoder" / "config.json").is_file()
    assert (tiny_models.taesdxl / "config.json").is_file()
    for path in (tiny_models.lora, tiny_models.esrgan, tiny_models.gfpgan):
        assert path.stat().st_size > 0
    assert (tiny_models.facexlib / "detection_mobilenet0.25_Final.pth").is_file()
    assert (tiny_models.facexlib / "parsing_parsenet.pth").is_file()


def test_second_build_is_a_no_op(tiny_models: TinyPaths) -> None:
    before = _digest(tiny_models.root)
    mtime = tiny_models.lora.stat().st_mtime_ns
    build_tiny_models(tiny_models.root)
    assert _digest(tiny_models.root) == before
    assert tiny_models.lora.stat().st_mtime_ns == mtime


@pytest.mark.slow
def test_builds_are_deterministic_and_replace_an_older_layout(tiny_models: TinyPaths, tmp_path: Path) -> None:
    old = tmp_path / "again"
    (old / "tiny-sd" / "unet").mkdir(parents=True)
    (old / "tiny-sd" / "unet" / "config.json").write_text("{}")  # a folder written by an older layout
    (old / ".draftloop-tiny-v1").write_text("complete\n")
    assert MARKER != ".draftloop-tiny-v1"
    other = build_tiny_models(old)
    assert (old / MARKER).exists() and not (old / ".draftloop-tiny-v1").exists()
    for part in ("sd", "sdxl", "sdxl_controlnet", "sdxl_ip_adapter", "taesdxl"):
        assert _digest(getattr(other, part)) == _digest(getattr(tiny_models, part)), part
    assert _digest(other.lora.parent) == _digest(tiny_models.lora.parent)
    assert _digest(other.esrgan.parent) == _digest(tiny_models.esrgan.parent)


def test_tokenizer_is_local_and_byte_level(tiny_models: TinyPaths) -> None:
    from transformers import CLIPTokenizer

    tok = CLIPTokenizer.from_pretrained(str(tiny_models.sd / "tokenizer"), local_files_only=True)
    ids = tok(["a red fox"], padding="max_length", max_length=77, truncation=True).input_ids[0]
    assert len(ids) == 77
    assert ids[0] == tok.bos_token_id
    assert len(set(ids[1:10])) > 3  # real byte tokens, not all padding
