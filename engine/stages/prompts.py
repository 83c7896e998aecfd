"""Prompt arguments for one pipeline call over images that may or may not have a negative prompt."""

from __future__ import annotations

from typing import Any

import torch


def zeros_for_empty_negative(pipe: Any) -> bool:
    """Whether the pipeline uses zero embeddings when no negative prompt is given (the SDXL family)."""
    config = getattr(pipe, "config", None)
    if config is None:
        return False
    return bool(getattr(config, "force_zeros_for_empty_prompt", False))


def prompt_kwargs(pipe: Any, prompts: list[str], negatives: list[str], guidance: float) -> dict[str, Any]:
    """The prompt arguments of a pipeline call, one entry per image.

    Without guidance there are no negatives. A pipeline that zeroes the negative embeddings when it is
    given no negative prompt gets embeddings instead of strings, with zeros in the rows of the images
    whose negative is empty: each image then matches a call of its own with ``negative_prompt=None``
    or with its negative, so images with and without one can share a call. When no image has one, the
    pipeline zeroes them itself and no negative is encoded.
    """
    if guidance <= 1.0:
        return {"prompt": prompts, "negative_prompt": None}
    empty = [not negative.strip() for negative in negatives]
    if not any(empty) or not zeros_for_empty_negative(pipe):
        return {"prompt": prompts, "negative_prompt": negatives}
    if all(empty):  # the pipeline's own zeros, without encoding negatives only to zero them
        return {"prompt": prompts, "negative_prompt": None}
    embeds, negative_embeds, pooled, negative_pooled = pipe.encode_prompt(
        prompt=prompts,
        device=pipe._execution_device,
        num_images_per_prompt=1,
        do_classifier_free_guidance=True,
        negative_prompt=negatives,
    )
    rows = torch.tensor(empty, device=negative_embeds.device)
    negative_embeds = negative_embeds.masked_fill(rows[:, None, None], 0.0)
    negative_pooled = negative_pooled.masked_fill(rows[:, None], 0.0)
    return {
        "prompt_embeds": embeds,
        "negative_prompt_embeds": negative_embeds,
        "pooled_prompt_embeds": pooled,
        "negative_pooled_prompt_embeds": negative_pooled,
    }
