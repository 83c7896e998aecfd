"""Device and dtype policy: which device and precision a model runs in, and the dtype setting's names."""

from __future__ import annotations

from typing import Any

# names of the dtype setting ("auto": fp16 on CUDA and MPS, fp32 on CPU, bf16 for FLUX in half precision)
DTYPE_NAMES = ("auto", "fp16", "bf16", "fp32")
CPU_OFFLOAD_MODES = ("off", "model")


def auto_device() -> tuple[str, Any]:
    """The best device here and the dtype that suits it."""
    import torch

    if torch.cuda.is_available():
        return "cuda", torch.float16
    if torch.backends.mps.is_available():
        return "mps", torch.float16
    return "cpu", torch.float32


def torch_dtype(name: str) -> Any:
    """The torch dtype a setting names, or None for "auto" (the device decides)."""
    import torch

    dtypes = {"auto": None, "fp16": torch.float16, "bf16": torch.bfloat16, "fp32": torch.float32}
    if name not in dtypes:
        raise ValueError(f"dtype '{name}' is not one of {', '.join(DTYPE_NAMES)}")
    return dtypes[name]


def family_dtype(family: str, default: Any) -> Any:
    """The weights' dtype for a family: FLUX's transformer and T5 overflow in fp16 (NaN, black images), so
    a half-precision default becomes bf16 for it; other families keep ``default``."""
    import torch

    if family.startswith("flux") and default == torch.float16:
        return torch.bfloat16
    return default
