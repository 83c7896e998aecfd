"""The one compatibility shim: basicsr 1.4.2 imports ``torchvision.transforms.functional_tensor``.

torchvision removed that module; basicsr only needs ``rgb_to_grayscale`` from it. Call
``install_functional_tensor_shim()`` before importing basicsr, realesrgan, gfpgan or facexlib.
"""

from __future__ import annotations

import importlib
import sys
import types

_NAME = "torchvision.transforms.functional_tensor"


def install_functional_tensor_shim() -> None:
    if _NAME in sys.modules:
        return
    try:
        importlib.import_module(_NAME)
        return
    except ImportError:
        pass
    from torchvision.transforms import functional

    shim = types.ModuleType(_NAME)
    shim.rgb_to_grayscale = functional.rgb_to_grayscale  # type: ignore[attr-defined]
    sys.modules[_NAME] = shim
