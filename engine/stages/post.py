"""Real-ESRGAN and GFPGAN construction; the face detector's threshold and face count are ours."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from engine.catalog import PostSpec
from engine.compat import install_functional_tensor_shim


class CappedDetector:
    """Wraps a facexlib RetinaFace: our own score threshold, and at most max_faces (best first)."""

    def __init__(self, detector: Any, threshold: float, max_faces: int) -> None:
        self.detector = detector
        self.threshold = threshold
        self.max_faces = max_faces

    def detect_faces(self, image: np.ndarray, conf_threshold: float = 0.8, **kwargs: Any) -> np.ndarray:
        boxes = self.detector.detect_faces(image, self.threshold, **kwargs)
        h, w = image.shape[:2]
        keep = []
        for box in boxes:
            x0, y0, x1, y1 = (
                np.clip(box[0], 0, w),
                np.clip(box[1], 0, h),
                np.clip(box[2], 0, w),
                np.clip(box[3], 0, h),
            )
            if x1 - x0 >= 1 and y1 - y0 >= 1:
                keep.append(box)
            if len(keep) >= self.max_faces:
                break
        return np.array(keep, dtype=np.float32).reshape(-1, 15)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.detector, name)


def build_upscaler(spec: PostSpec, device: str) -> Any:
    """RealESRGANer around the network named by spec.esrgan_net (RRDBNet takes "scale", SRVGGNetCompact
    "upscale"); outputs at other scales come from its outscale resize."""
    install_functional_tensor_shim()
    from basicsr.utils.registry import ARCH_REGISTRY
    from realesrgan import RealESRGANer  # importing realesrgan registers SRVGGNetCompact

    arch = dict(spec.esrgan_arch)
    return RealESRGANer(
        scale=int(arch["scale"] if "scale" in arch else arch["upscale"]),
        model_path=str(spec.esrgan),
        model=ARCH_REGISTRY.get(spec.esrgan_net)(**arch),
        tile=spec.tile,
        tile_pad=8,
        pre_pad=0,
        half=device == "cuda",
        device=torch.device(device),
    )


def build_face_restorer(spec: PostSpec, device: str, *, max_faces: int) -> Any:
    """A real GFPGANer (its own enhance), built from an architecture spec and local facexlib weights.

    GFPGANer.__init__ hard-codes the full-size network and a weights folder relative to the working
    directory, so the same attributes are set here from the spec instead.
    """
    install_functional_tensor_shim()
    from facexlib.utils.face_restoration_helper import FaceRestoreHelper
    from gfpgan.archs.gfpganv1_clean_arch import GFPGANv1Clean
    from gfpgan.utils import GFPGANer

    dev = torch.device(device)
    restorer = GFPGANer.__new__(GFPGANer)
    restorer.upscale = 1
    restorer.bg_upsampler = None
    restorer.device = dev
    net = GFPGANv1Clean(**spec.gfpgan_arch)
    state = torch.load(str(spec.gfpgan), map_location="cpu", weights_only=True)
    net.load_state_dict(state["params_ema"] if "params_ema" in state else state["params"], strict=True)
    restorer.gfpgan = net.eval().to(dev)
    helper = FaceRestoreHelper(
        1,
        face_size=512,
        crop_ratio=(1, 1),
        det_model=spec.detector,
        save_ext="png",
        use_parse=spec.use_parse,
        device=dev,
        model_rootpath=str(spec.facexlib_root),
    )
    helper.face_det = CappedDetector(helper.face_det, spec.det_threshold, max_faces)
    restorer.face_helper = helper
    return restorer


def set_upscale(restorer: Any, upscale: int, bg_upsampler: Any) -> None:
    restorer.upscale = upscale
    restorer.bg_upsampler = bg_upsampler
    restorer.face_helper.set_upscale_factor(upscale)


def face_boxes(restorer: Any, bgr: np.ndarray) -> list[tuple[int, int, int, int]]:
    """Face boxes (x0, y0, x1, y1) found by the restorer's detector."""
    helper = restorer.face_helper
    helper.clean_all()
    helper.read_image(bgr)
    with torch.no_grad():
        boxes = helper.face_det.detect_faces(bgr, 0.97)
    h, w = bgr.shape[:2]
    out = []
    for box in boxes:
        x0, y0 = int(np.clip(box[0], 0, w)), int(np.clip(box[1], 0, h))
        x1, y1 = int(np.ceil(np.clip(box[2], 0, w))), int(np.ceil(np.clip(box[3], 0, h)))
        if x1 > x0 and y1 > y0:
            out.append((x0, y0, x1, y1))
    helper.clean_all()
    return out
