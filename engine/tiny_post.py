"""Tiny random-weight post-processing models in their real formats: a Real-ESRGAN upscaler, GFPGAN, and
facexlib's face detector and parser.

The upscaler is a compact residual network (``SRVGGNetCompact``) whose learned residual is scaled down,
so its output looks like the upsampled input. The detector's landmark heads are biased to a face layout,
so face alignment has a real geometry.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch

from engine.compat import install_functional_tensor_shim

ESRGAN_NET = "SRVGGNetCompact"  # the architecture of realesr-general-x4v3
ESRGAN_ARCH: dict[str, Any] = {
    "num_in_ch": 3,
    "num_out_ch": 3,
    "num_feat": 8,
    "num_conv": 2,
    "upscale": 4,
    "act_type": "prelu",
}
ESRGAN_RESIDUAL_SCALE = 0.02  # the last conv's weights are scaled by this
GFPGAN_ARCH: dict[str, Any] = {
    "out_size": 512,
    "num_style_feat": 64,
    "channel_multiplier": 1,
    "decoder_load_path": None,
    "fix_decoder": False,
    "num_mlp": 2,
    "input_is_latent": True,
    "different_w": True,
    "narrow": 0.125,
    "sft_half": True,
}
DETECTOR = "retinaface_mobile0.25"
DETECTOR_FILE = "detection_mobilenet0.25_Final.pth"
PARSING_FILE = "parsing_parsenet.pth"

# Landmark offsets (in units of 0.1 x prior size) laid out like a face: eyes, nose, mouth corners.
_FACE_LAYOUT = (-3.0, -2.0, 3.0, -2.0, 0.0, 0.5, -2.0, 3.0, 2.0, 3.0)


def _face_layout_landmarks(detector: Any) -> None:
    """Random features, but landmark heads biased to a face layout, so alignment has a real geometry."""
    with torch.no_grad():
        for head in detector.LandmarkHead:
            conv = head.conv1x1
            conv.weight.mul_(0.01)
            anchors = conv.out_channels // 10
            conv.bias.copy_(torch.tensor(_FACE_LAYOUT * anchors))


def _tiny_upscaler() -> Any:
    """Random SRVGGNetCompact whose residual is small: output ~ the nearest-upsampled input."""
    from realesrgan.archs.srvgg_arch import SRVGGNetCompact

    torch.manual_seed(8)
    net = SRVGGNetCompact(**ESRGAN_ARCH)
    last = net.body[-1]
    with torch.no_grad():
        last.weight.mul_(ESRGAN_RESIDUAL_SCALE)
        last.bias.zero_()
    return net


def build_tiny_post(esrgan: Path, esrgan_arch: Path, gfpgan: Path, gfpgan_arch: Path, facexlib: Path) -> None:
    """Write the upscaler and GFPGAN as ``{"params_ema": state dict}`` with their constructor kwargs as
    JSON, and the detector and parser weights into facexlib's ``model_rootpath``."""
    install_functional_tensor_shim()
    from facexlib.detection.retinaface import RetinaFace
    from facexlib.parsing.parsenet import ParseNet
    from gfpgan.archs.gfpganv1_clean_arch import GFPGANv1Clean

    esrgan.parent.mkdir(parents=True, exist_ok=True)
    facexlib.mkdir(parents=True, exist_ok=True)
    torch.save({"params_ema": _tiny_upscaler().state_dict()}, esrgan)
    esrgan_arch.write_text(json.dumps(ESRGAN_ARCH))
    torch.manual_seed(9)
    torch.save({"params_ema": GFPGANv1Clean(**GFPGAN_ARCH).state_dict()}, gfpgan)
    gfpgan_arch.write_text(json.dumps(GFPGAN_ARCH))
    torch.manual_seed(10)
    detector = RetinaFace(network_name="mobile0.25", half=False, device="cpu")
    _face_layout_landmarks(detector)
    torch.save(detector.state_dict(), facexlib / DETECTOR_FILE)
    torch.manual_seed(11)
    torch.save(ParseNet(512, 512, 19).state_dict(), facexlib / PARSING_FILE)
