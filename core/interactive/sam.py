"""Segment Anything as a mask backend, from a checkpoint file the user points to.

No weights are downloaded: the user gives the path of an official SAM checkpoint (``sam_vit_b_01ec64.pth``,
``..._l_...``, ``..._h_...``). The model type is read from the weights themselves (the image encoder's
width), loaded with ``weights_only=True`` onto the CPU, then moved to the resolved device. The model object
is shared and only read (thread-safe under ``torch.no_grad``); the image embedding is returned to the
caller rather than stored in the model (segment-anything's ``set_image`` would race between users).
"""

from __future__ import annotations

import hashlib
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from numpy.typing import NDArray

from core.device import autocast, resolve_device
from core.errors import CheckpointError
from core.interactive.base import Embedding, Prompt, check_image

__all__ = ["SamSpec", "SAM_SPECS", "SamBackend", "detect_sam_type"]


@dataclass(frozen=True)
class SamSpec:
    """Image-encoder hyper-parameters of one SAM variant."""

    embed_dim: int
    depth: int
    num_heads: int
    global_attn_indexes: tuple[int, ...]


SAM_SPECS: dict[str, SamSpec] = {
    "vit_b": SamSpec(768, 12, 12, (2, 5, 8, 11)),
    "vit_l": SamSpec(1024, 24, 16, (5, 11, 17, 23)),
    "vit_h": SamSpec(1280, 32, 16, (7, 15, 23, 31)),
    # A tiny random-init variant so tests exercise the real loading and prompting code in seconds.
    "vit_test": SamSpec(32, 1, 2, (0,)),
}


def _load_state_dict(path: Path) -> dict[str, torch.Tensor]:
    if not path.is_file():
        raise CheckpointError("SAM checkpoint not found; give the path of a sam_vit_*.pth file", path=path)
    try:
        if path.suffix == ".safetensors":
            from safetensors.torch import load_file

            state = load_file(str(path), device="cpu")
        else:
            state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # noqa: BLE001 - any unpickling failure means the same thing to the user
        raise CheckpointError(
            f"could not read the SAM checkpoint ({type(e).__name__}: {e}); it must be a state_dict saved by "
            "torch.save (files that contain code are refused)",
            path=path,
        ) from e
    if isinstance(state, dict) and "model" in state and isinstance(state["model"], dict):
        state = state["model"]
    if not isinstance(state, dict):
        raise CheckpointError("the SAM checkpoint is not a state_dict", path=path)
    return {k.removeprefix("module."): v for k, v in state.items()}


def detect_sam_type(state: dict[str, Any], path: Path | None = None) -> str:
    """SAM variant name from a state_dict, by the image encoder's width and depth."""
    pos = state.get("image_encoder.pos_embed")
    if not isinstance(pos, torch.Tensor) or pos.ndim != 4:
        raise CheckpointError(
            "this is not a Segment Anything checkpoint (no image_encoder.pos_embed); "
            "use an official sam_vit_b/l/h file",
            path=path,
        )
    dim = int(pos.shape[-1])
    depth = 1 + max(int(k.split(".")[2]) for k in state if k.startswith("image_encoder.blocks."))
    for name, spec in SAM_SPECS.items():
        if spec.embed_dim == dim and spec.depth == depth:
            return name
    raise CheckpointError(
        f"unknown SAM variant (encoder width {dim}, depth {depth}); known: {', '.join(SAM_SPECS)}", path=path
    )


class SamBackend:
    """Segment Anything backend.

    Args:
        checkpoint: path of the SAM weights.
        model_type: ``auto`` (read from the weights) or one of :data:`SAM_SPECS`; a mismatch is an error.
        device: ``auto|cpu|cuda``.
    """

    name = "sam"

    def __init__(self, checkpoint: str | Path, model_type: str = "auto", device: str = "auto"):
        from segment_anything.build_sam import _build_sam
        from segment_anything.utils.transforms import ResizeLongestSide

        path = Path(checkpoint)
        state = _load_state_dict(path)
        detected = detect_sam_type(state, path)
        if model_type not in ("auto", detected):
            if model_type not in SAM_SPECS:
                raise CheckpointError(
                    f"unknown SAM model type {model_type!r}; valid: auto, {', '.join(SAM_SPECS)}"
                )
            raise CheckpointError(
                f"the checkpoint is a {detected} model, not {model_type}; choose {detected} or auto",
                path=path,
            )
        spec = SAM_SPECS[detected]
        sam = _build_sam(
            spec.embed_dim, spec.depth, spec.num_heads, list(spec.global_attn_indexes), checkpoint=None
        )
        try:
            sam.load_state_dict(state, strict=True)
        except RuntimeError as e:
            raise CheckpointError(
                f"the SAM checkpoint does not fit the {detected} model: {str(e)[:300]}", path=path
            ) from e
        self.model_type = detected
        self.device = resolve_device(device)
        self.model = sam.to(self.device).eval()
        self.transform = ResizeLongestSide(sam.image_encoder.img_size)
        self._lock = threading.Lock()  # serialises GPU use; CPU inference is re-entrant but memory-heavy

    @torch.no_grad()
    def embed(self, image: NDArray[np.uint8], image_id: str = "") -> Embedding:
        image = check_image(image)
        h, w = image.shape[:2]
        resized = self.transform.apply_image(image)
        x = (
            torch.as_tensor(resized, device=self.device).permute(2, 0, 1).contiguous()[None].float()
        )  # (1, 3, h', w')
        input_size = tuple(x.shape[-2:])
        with self._lock, autocast(self.device):
            feats = self.model.image_encoder(self.model.preprocess(x))  # (1, 256, 64, 64)
        payload = {"features": feats.float(), "input_size": input_size}
        key = image_id or hashlib.blake2b(image.tobytes(), digest_size=8).hexdigest()
        return Embedding(key, h, w, self.name, payload)

    @torch.no_grad()
    def predict(self, embedding: Embedding, prompt: Prompt) -> NDArray[np.bool_]:
        h, w = embedding.height, embedding.width
        if prompt.is_empty:
            return np.zeros((h, w), bool)
        sam = self.model
        points = None
        if prompt.points:
            coords = self.transform.apply_coords(prompt.points_array(), (h, w))
            points = (
                torch.as_tensor(coords, dtype=torch.float32, device=self.device)[None],  # (1, N, 2)
                torch.as_tensor(prompt.labels_array(), dtype=torch.int64, device=self.device)[None],  # (1, N)
            )
        boxes = None
        if prompt.box is not None:
            box = self.transform.apply_boxes(np.asarray(prompt.box, np.float32)[None], (h, w))
            boxes = torch.as_tensor(box, dtype=torch.float32, device=self.device)  # (1, 4)
        feats = embedding.payload["features"].to(self.device)
        with self._lock:
            sparse, dense = sam.prompt_encoder(points=points, boxes=boxes, masks=None)
            multimask = (
                len(prompt.points) == 1 and prompt.box is None
            )  # one click is ambiguous: pick the best of 3
            low_res, iou_pred = sam.mask_decoder(
                image_embeddings=feats,
                image_pe=sam.prompt_encoder.get_dense_pe(),
                sparse_prompt_embeddings=sparse,
                dense_prompt_embeddings=dense,
                multimask_output=multimask,
            )
        best = int(torch.argmax(iou_pred[0]))
        masks = sam.postprocess_masks(low_res[:, best : best + 1], embedding.payload["input_size"], (h, w))
        return (masks[0, 0] > sam.mask_threshold).cpu().numpy()
