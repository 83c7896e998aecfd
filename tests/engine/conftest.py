"""Engine test fixtures: the tiny offline models are built once per session."""

from __future__ import annotations

import os

os.environ["HF_HUB_OFFLINE"] = "1"
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

from pathlib import Path

import pytest

from engine.tiny import TinyPaths, build_tiny_models


@pytest.fixture(scope="session")
def tiny_models(tmp_path_factory: pytest.TempPathFactory) -> TinyPaths:
    return build_tiny_models(Path(tmp_path_factory.mktemp("tiny-models")))


@pytest.fixture(scope="session")
def tiny_registry(tiny_models: TinyPaths):  # type: ignore[no-untyped-def]
    from engine.tiny_catalog import tiny_registry

    return tiny_registry(tiny_models, device="cpu")
