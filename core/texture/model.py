"""A tiny CNN for the structure/texture study, its checkpoint format and its Grad-CAM.

Checkpoints are ``.safetensors`` files whose metadata carries the architecture arguments
(``model_args``) and the class names, so one file rebuilds the model.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from numpy.typing import NDArray
from torch import nn

from core.errors import CheckpointError, InputError

__all__ = ["TinyCNNArgs", "TinyCNN", "save_model", "load_model", "predict", "gradcam"]


@dataclass(frozen=True)
class TinyCNNArgs:
    """Architecture arguments (travel inside the checkpoint)."""

    num_classes: int = 16
    width: int = 16
    depth: int = 3


class TinyCNN(nn.Module):
    """``depth`` conv-BN-ReLU-maxpool blocks (width doubling), global average pool, linear head.

    Input: (B, 3, H, W) float in [0, 1]; output: (B, num_classes) logits.
    """

    def __init__(self, args: TinyCNNArgs):
        super().__init__()
        self.args = args
        layers: list[nn.Module] = []
        c_in, c = 3, args.width
        for _ in range(args.depth):
            layers += [nn.Conv2d(c_in, c, 3, padding=1, bias=False), nn.BatchNorm2d(c), nn.ReLU(inplace=True)]
            layers += [nn.MaxPool2d(2)]
            c_in, c = c, c * 2
        self.features = nn.Sequential(*layers)
        self.head = nn.Linear(c_in, args.num_classes)

    @property
    def cam_layer(self) -> nn.Module:
        """The last ReLU before pooling: the layer Grad-CAM looks at."""
        return self.features[-2]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        f = self.features(x - 0.5)  # (B, C, h, w)
        return self.head(f.mean((-2, -1)))


def save_model(
    model: TinyCNN, path: str | Path, classes: list[str], extra: dict[str, Any] | None = None
) -> Path:
    """Write weights + architecture + class names to a safetensors file (atomically)."""
    import os

    from safetensors.torch import save_file

    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    meta = {"model_args": json.dumps(asdict(model.args)), "classes": json.dumps(classes)}
    meta["extra"] = json.dumps(extra or {})
    tmp = p.with_suffix(p.suffix + ".tmp")
    save_file(
        {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}, str(tmp), metadata=meta
    )
    os.replace(tmp, p)
    return p


def load_model(path: str | Path) -> tuple[TinyCNN, list[str], dict[str, Any]]:
    """Rebuild a :class:`TinyCNN` from a checkpoint on CPU.

    Returns:
        ``(model in eval mode, class names, extra metadata)``.
    """
    from safetensors import SafetensorError, safe_open

    p = Path(path)
    if not p.is_file():
        raise CheckpointError("checkpoint not found; run `python -m core.texture sweep` to create it", path=p)
    try:
        with safe_open(str(p), framework="pt", device="cpu") as fh:
            meta = fh.metadata() or {}
            state = {k: fh.get_tensor(k) for k in fh.keys()}  # noqa: SIM118 - safe_open has no __iter__
        args = TinyCNNArgs(**json.loads(meta["model_args"]))
        classes = list(json.loads(meta["classes"]))
        extra = json.loads(meta.get("extra", "{}"))
    except (OSError, KeyError, ValueError, TypeError, SafetensorError) as e:
        raise CheckpointError(f"not a texture-study checkpoint: {e}", path=p) from e
    model = TinyCNN(args)
    try:
        model.load_state_dict(state, strict=True)
    except RuntimeError as e:
        raise CheckpointError(f"weights do not match the architecture: {e}", path=p) from e
    return model.eval(), classes, extra


def _to_tensor(images: NDArray[Any]) -> torch.Tensor:
    a = np.asarray(images)
    if a.ndim == 3:
        a = a[None]
    if a.ndim != 4 or a.shape[-1] != 3:
        raise InputError(f"expected (N, H, W, 3) or (H, W, 3) images, got shape {a.shape}")
    f = a.astype(np.float32) / 255.0 if a.dtype == np.uint8 else a.astype(np.float32)
    return torch.from_numpy(np.ascontiguousarray(f.transpose(0, 3, 1, 2)))


@torch.no_grad()
def predict(model: nn.Module, images: NDArray[Any], batch_size: int = 256) -> NDArray[np.float32]:
    """Class probabilities for (N, H, W, 3) images (uint8 or float [0, 1]) -> (N, num_classes)."""
    model.eval()
    x = _to_tensor(images)
    dev = next(model.parameters()).device
    out = [torch.softmax(model(x[i : i + batch_size].to(dev)), 1).cpu() for i in range(0, len(x), batch_size)]
    return torch.cat(out).numpy()


def gradcam(model: TinyCNN, image: NDArray[Any], target: int | None = None) -> NDArray[np.float32]:
    """Grad-CAM heat map (pytorch-grad-cam) of one (H, W, 3) image for class ``target`` (default: top-1).

    Returns:
        (H, W) float32 in [0, 1].
    """
    from pytorch_grad_cam import GradCAM
    from pytorch_grad_cam.utils.model_targets import ClassifierOutputTarget

    x = _to_tensor(image)
    model.eval()
    targets = None if target is None else [ClassifierOutputTarget(int(target))]
    with GradCAM(model=model, target_layers=[model.cam_layer]) as cam:
        heat = cam(input_tensor=x, targets=targets)
    return np.asarray(heat[0], dtype=np.float32)
