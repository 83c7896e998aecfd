"""``draftloop models pull`` against a fake hub and release host on 127.0.0.1: a full pull of a tiny model
that then loads offline, corrupted bytes refused, a cut download resumed, no network refused in one line."""

from __future__ import annotations

import argparse
import hashlib
import io
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from engine.catalog import IPAdapterSpec, ModelSpec
from engine.pull import HubSource, IntegrityError, PullError, PullPlan, ReleaseFile, model_sources
from engine.pull.command import dry_run, pull, run_pull_command
from engine.pull.hub import HubFile, select_files
from engine.pull.progress import Progress
from engine.tiny import IP_ADAPTER_SUBFOLDER, IP_ADAPTER_WEIGHT, TinyPaths
from tests.support.fake_hub import FakeHub

ORG = "draftloop-test"
RELEASE = "xinntao/Real-ESRGAN/releases/download/v0.1.0/tiny_x4.pth"


@pytest.fixture(autouse=True)
def _online(monkeypatch: pytest.MonkeyPatch) -> None:
    """The engine tests run with HF_HUB_OFFLINE=1; pulling is the one place that goes online."""
    import huggingface_hub.constants

    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", False)


@pytest.fixture(scope="module")
def hub(tiny_models: TinyPaths) -> Iterator[FakeHub]:
    fake = FakeHub()
    fake.add_repo(f"{ORG}/tiny-sd", tiny_models.sd)
    fake.add_repo(f"{ORG}/tiny-taesd", tiny_models.taesd)
    fake.add_repo(f"{ORG}/tiny-controlnet", tiny_models.controlnet)
    fake.add_repo(f"{ORG}/tiny-ip-adapter", tiny_models.ip_adapter)
    fake.add_repo(
        f"{ORG}/tiny-lcm-lora",
        tiny_models.lora.parent,
        rename={tiny_models.lora.name: "pytorch_lora_weights.safetensors"},
    )
    fake.add_release(RELEASE, tiny_models.esrgan.read_bytes())
    fake.start()
    yield fake
    fake.stop()


@pytest.fixture
def env(hub: FakeHub, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("HF_ENDPOINT", hub.url)
    monkeypatch.setenv("DRAFTLOOP_RELEASES_URL", hub.url)
    hub.corrupt.clear()
    hub.cut_once.clear()
    hub.requests.clear()
    return tmp_path


def tiny_spec() -> ModelSpec:
    return ModelSpec(
        f"{ORG}/tiny-sd",
        "tiny-sd",
        f"{ORG}/tiny-taesd",
        IPAdapterSpec(f"{ORG}/tiny-ip-adapter", IP_ADAPTER_SUBFOLDER, IP_ADAPTER_WEIGHT),
        {"canny": f"{ORG}/tiny-controlnet", "lineart": f"{ORG}/tiny-controlnet"},
    )


def release_file(tiny_models: TinyPaths, weights: Path) -> ReleaseFile:
    data = tiny_models.esrgan.read_bytes()
    return ReleaseFile(RELEASE, weights / "tiny_x4.pth", hashlib.sha256(data).hexdigest(), len(data))


def tiny_plan(tiny_models: TinyPaths, weights: Path) -> PullPlan:
    return PullPlan(
        model_sources(tiny_spec(), lcm_lora=f"{ORG}/tiny-lcm-lora"), [release_file(tiny_models, weights)]
    )


def lines() -> Progress:
    return Progress(io.StringIO(), bars=False)


def report() -> tuple[Progress, io.StringIO]:
    stream = io.StringIO()
    return Progress(stream, bars=False), stream


def blobs(cache: Path) -> list[Path]:
    return [p for p in cache.rglob("blobs/*") if p.is_file()]


def test_selection_takes_fp16_safetensors_configs_and_tokenizers_only() -> None:
    names = [
        "model_index.json",
        "sd_xl_base_1.0.safetensors",
        "README.md",
        "unet/config.json",
        "unet/diffusion_pytorch_model.safetensors",
        "unet/diffusion_pytorch_model.fp16.safetensors",
        "unet/diffusion_pytorch_model.bin",
        "unet/diffusion_pytorch_model.onnx",
        "text_encoder/config.json",
        "text_encoder/model.safetensors",
        "text_encoder/pytorch_model.bin",
        "tokenizer/vocab.json",
        "tokenizer/merges.txt",
        "scheduler/scheduler_config.json",
        "safety_checker/pytorch_model.bin",
        "onnx/unet/model.onnx",
        "images/sample.png",
    ]
    files = [HubFile(name, 1, None, "0" * 40) for name in names]
    chosen = [f.path for f in select_files(HubSource("a/b", "diffusers", "base model"), files)]
    assert chosen == [
        "model_index.json",
        "safety_checker/pytorch_model.bin",
        "scheduler/scheduler_config.json",
        "text_encoder/config.json",
        "text_encoder/model.safetensors",
        "tokenizer/merges.txt",
        "tokenizer/vocab.json",
        "unet/config.json",
        "unet/diffusion_pytorch_model.fp16.safetensors",
    ]
    ip_files = [
        HubFile(name, 1, None, "0" * 40)
        for name in (
            "models/ip-adapter_sd15.safetensors",
            "models/ip-adapter_sd15.bin",
            "models/ip-adapter-plus_sd15.safetensors",
            "models/image_encoder/config.json",
            "models/image_encoder/model.safetensors",
            "models/image_encoder/pytorch_model.bin",
            "sdxl_models/ip-adapter_sdxl.safetensors",
        )
    ]
    ip = HubSource("h94/IP-Adapter", "ip-adapter", "IP-Adapter", "models", "ip-adapter_sd15.safetensors")
    assert [f.path for f in select_files(ip, ip_files)] == [
        "models/ip-adapter_sd15.safetensors",
        "models/image_encoder/config.json",
        "models/image_encoder/model.safetensors",
    ]


def test_full_pull_then_the_model_loads_offline(tiny_models: TinyPaths, env: Path, hub: FakeHub) -> None:
    cache, weights = env / "hf-cache", env / "weights"
    progress, shown = report()
    pull(tiny_plan(tiny_models, weights), progress, cache)

    assert f"{ORG}/tiny-sd/unet/diffusion_pytorch_model.safetensors" in shown.getvalue()
    assert "tiny_x4.pth" in shown.getvalue() and "sha256 ok" in shown.getvalue()
    assert (weights / "tiny_x4.pth").read_bytes() == tiny_models.esrgan.read_bytes()
    assert not (weights / "tiny_x4.pth.part").exists()

    hub.requests.clear()
    again, shown = report()
    pull(tiny_plan(tiny_models, weights), again, cache)  # a second pull fetches nothing
    assert not [r for r in hub.requests if r.method == "GET" and r.key is not None]
    assert "already there" in shown.getvalue()

    script = f"""
import torch
from diffusers import AutoencoderTiny, AutoPipelineForText2Image, ControlNetModel
pipe = AutoPipelineForText2Image.from_pretrained("{ORG}/tiny-sd", safety_checker=None)
pipe.vae = AutoencoderTiny.from_pretrained("{ORG}/tiny-taesd")
ControlNetModel.from_pretrained("{ORG}/tiny-controlnet")
pipe.load_ip_adapter(
    "{ORG}/tiny-ip-adapter", subfolder="{IP_ADAPTER_SUBFOLDER}", weight_name="{IP_ADAPTER_WEIGHT}"
)
pipe.unload_ip_adapter()
pipe.load_lora_weights(
    "{ORG}/tiny-lcm-lora", weight_name="pytorch_lora_weights.safetensors", adapter_name="lcm"
)
image = pipe("a test", num_inference_steps=1, height=64, width=64, output_type="np").images[0]
print("loaded", image.shape)
"""
    child_env = {
        **os.environ,
        "HF_HUB_OFFLINE": "1",
        "HF_HUB_CACHE": str(cache),
        "HF_ENDPOINT": "http://127.0.0.1:9",
    }
    done = subprocess.run(
        [sys.executable, "-c", script], env=child_env, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert "loaded (64, 64, 3)" in done.stdout


def test_corrupted_hub_file_is_refused_and_removed(tiny_models: TinyPaths, env: Path, hub: FakeHub) -> None:
    cache = env / "hf-cache"
    hub.corrupt.add(f"{ORG}/tiny-taesd/diffusion_pytorch_model.safetensors")
    with pytest.raises(IntegrityError) as refused:
        pull(PullPlan([HubSource(f"{ORG}/tiny-taesd", "diffusers", "draft decoder")]), lines(), cache)
    message = str(refused.value)
    assert f"{ORG}/tiny-taesd/diffusion_pytorch_model.safetensors" in message
    assert "sha256 mismatch" in message and "removed" in message
    good = hashlib.sha256(
        (tiny_models.taesd / "diffusion_pytorch_model.safetensors").read_bytes()
    ).hexdigest()
    assert good in message
    snapshots = list(cache.rglob("snapshots/*/diffusion_pytorch_model.safetensors"))
    assert snapshots == []
    assert all(
        p.stat().st_size != (tiny_models.taesd / "diffusion_pytorch_model.safetensors").stat().st_size
        for p in blobs(cache)
    )

    hub.corrupt.clear()  # the next pull fetches it again, whole
    pull(PullPlan([HubSource(f"{ORG}/tiny-taesd", "diffusers", "draft decoder")]), lines(), cache)
    (fetched,) = cache.rglob("snapshots/*/diffusion_pytorch_model.safetensors")
    assert fetched.read_bytes() == (tiny_models.taesd / "diffusion_pytorch_model.safetensors").read_bytes()


def test_corrupted_release_file_is_refused_and_not_left(
    tiny_models: TinyPaths, env: Path, hub: FakeHub
) -> None:
    weights = env / "weights"
    hub.corrupt.add(RELEASE)
    with pytest.raises(IntegrityError, match=r"tiny_x4\.pth: sha256 mismatch"):
        pull(PullPlan([], [release_file(tiny_models, weights)]), lines(), env / "hf-cache")
    assert list(weights.iterdir()) == []


def test_cut_release_download_resumes_with_a_range_request(
    tiny_models: TinyPaths, env: Path, hub: FakeHub
) -> None:
    weights = env / "weights"
    hub.cut_once[RELEASE] = 1000
    shown = io.StringIO()
    pull(PullPlan([], [release_file(tiny_models, weights)]), Progress(shown, bars=True), env / "hf-cache")
    assert "tiny_x4.pth" in shown.getvalue() and "100%" in shown.getvalue()  # the tqdm bar
    first, second = hub.gets(RELEASE)
    assert first.range is None
    assert second.range == "bytes=1000-"
    assert (weights / "tiny_x4.pth").read_bytes() == tiny_models.esrgan.read_bytes()


def test_cut_hub_download_resumes_with_a_range_request(
    tiny_models: TinyPaths, env: Path, hub: FakeHub, monkeypatch: pytest.MonkeyPatch
) -> None:
    import huggingface_hub.constants

    # huggingface_hub writes 10 MiB chunks; smaller ones put the bytes before the cut on disk
    monkeypatch.setattr(huggingface_hub.constants, "DOWNLOAD_CHUNK_SIZE", 1024)
    cache = env / "hf-cache"
    key = f"{ORG}/tiny-controlnet/diffusion_pytorch_model.safetensors"
    hub.cut_once[key] = 4096
    pull(PullPlan([HubSource(f"{ORG}/tiny-controlnet", "diffusers", "canny ControlNet")]), lines(), cache)
    gets = hub.gets(key)
    assert [r.range for r in gets] == [None, "bytes=4096-"]
    (fetched,) = cache.rglob("snapshots/*/diffusion_pytorch_model.safetensors")
    assert (
        fetched.read_bytes() == (tiny_models.controlnet / "diffusion_pytorch_model.safetensors").read_bytes()
    )


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_no_network_refuses_in_one_line(env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    port = closed_port()
    monkeypatch.setenv("HF_ENDPOINT", f"http://127.0.0.1:{port}")
    out, err = io.StringIO(), io.StringIO()
    args = argparse.Namespace(names=["sd15"], dry_run=False, cache_dir=env / "hf-cache", weights_dir=None)
    started = time.monotonic()
    assert run_pull_command(args, out, err) == 1
    assert time.monotonic() - started < 5  # refused at once, not after the HTTP clients' retries
    assert out.getvalue() == ""
    (line,) = err.getvalue().splitlines()
    assert f"cannot reach 127.0.0.1:{port}" in line
    assert "copy the Hugging Face cache" in line and "HF_ENDPOINT" in line

    monkeypatch.setenv("DRAFTLOOP_RELEASES_URL", f"http://127.0.0.1:{port}")
    err = io.StringIO()
    args = argparse.Namespace(names=["upscalers"], dry_run=False, cache_dir=None, weights_dir=env / "weights")
    assert run_pull_command(args, io.StringIO(), err) == 1
    (line,) = err.getvalue().splitlines()
    assert f"cannot reach 127.0.0.1:{port}" in line and "DRAFTLOOP_RELEASES_URL" in line


def test_unknown_repo_and_name_are_refused(env: Path) -> None:
    with pytest.raises(PullError, match="repository not found"):
        pull(PullPlan([HubSource(f"{ORG}/missing", "diffusers", "base model")]), lines(), env / "hf-cache")
    err = io.StringIO()
    args = argparse.Namespace(names=["sd99"], dry_run=True, cache_dir=None, weights_dir=None)
    assert run_pull_command(args, io.StringIO(), err) == 1
    assert "unknown model 'sd99'" in err.getvalue() and "upscalers" in err.getvalue()


def test_dry_run_lists_and_fetches_nothing(
    env: Path, hub: FakeHub, capsys: pytest.CaptureFixture[str]
) -> None:
    from engine.models_cli import models_main

    argv = ["pull", "upscalers", f"{ORG}/unused", "--dry-run", "--weights-dir", str(env / "weights")]
    assert models_main(argv) == 1  # a hub id is not a known name
    assert "unknown model 'draftloop-test/unused'" in capsys.readouterr().err
    assert models_main([*argv[:2], *argv[3:]]) == 0
    listing = capsys.readouterr().out
    assert f"{hub.url}/TencentARC/GFPGAN/releases/download/v1.3.0/GFPGANv1.4.pth" in listing
    assert str(env / "weights" / "facexlib" / "detection_Resnet50_Final.pth") in listing
    assert not (env / "weights").exists() and hub.requests == []

    progress, shown = report()
    dry_run(PullPlan(model_sources(tiny_spec())), progress)
    listing = shown.getvalue()
    assert f"{ORG}/tiny-sd (base model) from {hub.url}" in listing
    assert (
        "  unet/diffusion_pytorch_model.safetensors" in listing
        and "models/image_encoder/config.json" in listing
    )
    assert not [r for r in hub.requests if "/resolve/" in r.path]
    assert not (Path.home() / ".cache" / "huggingface" / "hub" / f"models--{ORG}--tiny-sd").exists()


def test_fake_hub_enforces_404_and_range(hub: FakeHub, env: Path) -> None:
    from huggingface_hub import hf_hub_download
    from huggingface_hub.errors import EntryNotFoundError, RepositoryNotFoundError

    with pytest.raises(EntryNotFoundError):
        hf_hub_download(f"{ORG}/tiny-sd", "unet/missing.json", cache_dir=env, endpoint=hub.url)
    with pytest.raises(RepositoryNotFoundError):
        hf_hub_download(f"{ORG}/nope", "model_index.json", cache_dir=env, endpoint=hub.url)
    import urllib.error
    import urllib.request

    url = f"{hub.url}/{RELEASE}"
    ranged = urllib.request.urlopen(urllib.request.Request(url, headers={"Range": "bytes=10-19"}))
    assert ranged.status == 206 and len(ranged.read()) == 10
    assert ranged.headers["Content-Range"].startswith("bytes 10-19/")
    with pytest.raises(urllib.error.HTTPError) as beyond:
        urllib.request.urlopen(urllib.request.Request(url, headers={"Range": "bytes=999999999-"}))
    assert beyond.value.code == 416


def test_fp16_variant_is_fetched_alone_and_loads_as_that_variant(
    tiny_models: TinyPaths, env: Path, hub: FakeHub
) -> None:
    import shutil

    from diffusers import AutoencoderTiny

    from engine.pull.variants import weights_variant

    folder = env / "taesd-with-fp16"
    shutil.copytree(tiny_models.taesd, folder)
    half = AutoencoderTiny.from_pretrained(str(folder)).half()
    half.save_pretrained(str(folder), variant="fp16")
    hub.add_repo(f"{ORG}/tiny-taesd-fp16", folder)
    cache = env / "hf-cache"

    pull(PullPlan([HubSource(f"{ORG}/tiny-taesd-fp16", "diffusers", "draft decoder")]), lines(), cache)
    (snapshot,) = cache.rglob("snapshots/*")
    assert sorted(p.name for p in snapshot.iterdir()) == [
        "config.json",
        "diffusion_pytorch_model.fp16.safetensors",
    ]
    assert weights_variant(f"{ORG}/tiny-taesd-fp16", cache) == "fp16"
    assert weights_variant(str(tiny_models.taesd)) is None
    loaded = AutoencoderTiny.from_pretrained(str(snapshot), variant="fp16")
    for mine, theirs in zip(loaded.parameters(), half.parameters(), strict=True):
        assert mine.detach().float().equal(theirs.detach().float())
