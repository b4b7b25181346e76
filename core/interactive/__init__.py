"""Interactive mask backends for labelling: clicks and a box in, a mask out.

``SuperpixelBackend`` ("offline") always works without downloaded weights; a SAM backend loads a user's
checkpoint; the project's segmenter can feed either as a proposal.
"""

from __future__ import annotations

from core.interactive.base import Embedding, MaskBackend, Prompt, check_image
from core.interactive.cache import EmbeddingCache
from core.interactive.clicks import ClickResult, clicks_to_iou, iou, next_click
from core.interactive.sam import SAM_SPECS, SamBackend, detect_sam_type
from core.interactive.superpixel import SuperpixelBackend, SuperpixelConfig

__all__ = [
    "SAM_SPECS",
    "SamBackend",
    "detect_sam_type",
    "ClickResult",
    "Embedding",
    "EmbeddingCache",
    "MaskBackend",
    "Prompt",
    "SuperpixelBackend",
    "SuperpixelConfig",
    "check_image",
    "clicks_to_iou",
    "iou",
    "next_click",
]
