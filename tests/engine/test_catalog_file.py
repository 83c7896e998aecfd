"""The model catalog file: what a team's models.toml names, resolved to the specs the registry serves."""

from __future__ import annotations

from pathlib import Path

import pytest

from engine.catalog import KNOWN_MODELS
from engine.model_catalog_file import CatalogError, catalog_default, catalog_path, load_catalog


def _write(folder: Path, text: str) -> Path:
    path = folder / "models.toml"
    path.write_text(text)
    return path


def test_a_catalog_names_checkpoints_folders_hub_ids_and_known_models(tmp_path: Path) -> None:
    folder = tmp_path / "product-xl"
    folder.mkdir()
    (folder / "model_index.json").write_text('{"_class_name": "StableDiffusionXLPipeline"}')
    path = _write(
        tmp_path,
        """default = "house"
[models.house]
checkpoint = "ckpt/house.safetensors"
family = "sd15"
[models.product]
source = "product-xl"
controlnets = { canny = "./canny-xl" }
draft_vae = ""
[models.turbo]
source = "stabilityai/sdxl-turbo"
[models.sd15]
""",
    )
    catalog = load_catalog(path)
    assert catalog.default == "house" and catalog.path == path
    house = catalog.models["house"]
    assert house.single_file and house.source == str(tmp_path.resolve() / "ckpt/house.safetensors")
    assert house.family == "sd15" and house.config is None
    # a well-known family's extras come along: its draft decoder, IP-Adapter and ControlNets
    assert house.draft_vae == KNOWN_MODELS["sd15"].draft_vae
    assert house.controlnets == KNOWN_MODELS["sd15"].controlnets
    product = catalog.models["product"]
    assert product.family == "sdxl" and product.source == str(tmp_path.resolve() / "product-xl")
    assert product.draft_vae is None  # switched off
    assert product.controlnets == {"canny": str(tmp_path.resolve() / "canny-xl")}
    assert product.ip_adapter == KNOWN_MODELS["sdxl"].ip_adapter
    assert catalog.models["turbo"].source == "stabilityai/sdxl-turbo"
    assert catalog.models["turbo"].family == "sdxl-turbo"
    assert catalog.models["sd15"] == KNOWN_MODELS["sd15"]


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ('[models.a]\ncheckpoint = "a.safetensors"\n', "needs its 'family'"),
        ('[models.a]\ncheckpoint = "a.bin"\nfamily = "sd15"\n', ".safetensors or .ckpt"),
        ('[models.a]\nsource = "x/y"\ncheckpoint = "a.ckpt"\nfamily = "sd15"\n', "not both"),
        ("[models.mystery]\n", "needs a 'source'"),
        ('[models.a]\nsource = "x/y"\ncolour = "red"\n', "unknown key(s) colour"),
        ('default = "b"\n[models.a]\nsource = "x/y"\n', "default 'b' is not one of its models (a)"),
        ("default = [", "not valid TOML"),
    ],
)
def test_a_wrong_catalog_says_what_is_wrong(tmp_path: Path, text: str, reason: str) -> None:
    with pytest.raises(CatalogError, match=None) as caught:
        load_catalog(_write(tmp_path, text))
    assert reason in str(caught.value)


def test_the_catalog_is_found_in_the_data_dir_unless_one_is_named(tmp_path: Path) -> None:
    assert catalog_path(None, tmp_path) is None and load_catalog(None).models == {}
    assert catalog_default(None, tmp_path) is None
    found = _write(tmp_path, '[models.only]\nsource = "org/only"\n')
    assert catalog_path(None, tmp_path) == found
    assert catalog_default(None, tmp_path) == "only"  # the one model is the default
    named = tmp_path / "elsewhere.toml"
    assert catalog_path(named, tmp_path) == named
    with pytest.raises(CatalogError, match="can't be read"):
        load_catalog(named)
