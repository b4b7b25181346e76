"""Data preparation and training of one model of the structure/texture study.

The Geirhos cue-conflict set is loaded at a small size, split by shape-source image (test shapes are
never seen in training), and decomposed with RTV so that structure-only and texture-only inputs exist:

* ``image``: the cue-conflict image; ``structure``: its RTV structure layer;
  ``texture``: ``0.5 + texture layer`` (mean-gray background);
* ``silhouettes`` / ``edges``: the authors' structure-only renderings of the test shapes.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from numpy.typing import NDArray

from core.errors import ConfigError, DatasetError
from core.texture.cueconflict import (
    CueItem,
    load_cue_conflict,
    load_plain_set,
    mix_targets,
    shape_bias,
    split_by_shape,
)
from core.texture.model import TinyCNN, TinyCNNArgs, predict

__all__ = ["StudyData", "layers", "prepare_cue_conflict", "train_model", "evaluate_model", "MODEL_KINDS"]

MODEL_KINDS = ("mixed", "structure", "texture", "clean")


@dataclass(frozen=True)
class StudyData:
    """Arrays of the study, all (N, S, S, 3) float32 in [0, 1] with int64 labels (class indices)."""

    classes: list[str]
    train_image: NDArray[np.float32]
    train_structure: NDArray[np.float32]
    train_texture: NDArray[np.float32]
    train_shape: NDArray[np.int64]
    train_tex: NDArray[np.int64]
    test_image: NDArray[np.float32]
    test_structure: NDArray[np.float32]
    test_texture: NDArray[np.float32]
    test_shape: NDArray[np.int64]
    test_tex: NDArray[np.int64]
    plain_image: NDArray[np.float32]  # silhouettes + edges of the test shapes
    plain_label: NDArray[np.int64]
    test_shape_ids: list[str]
    # clean photos with their own label (studio data); None for the Geirhos set (no clean photos)
    train_clean: NDArray[np.float32] | None = None
    train_clean_label: NDArray[np.int64] | None = None
    test_clean: NDArray[np.float32] | None = None
    test_clean_label: NDArray[np.int64] | None = None


def _load(paths: list[Path], size: int) -> NDArray[np.float32]:
    from PIL import Image

    from core.imageio import read_image

    out = np.empty((len(paths), size, size, 3), np.float32)
    for i, p in enumerate(paths):
        img = Image.fromarray(read_image(p)).resize((size, size), Image.Resampling.BILINEAR)
        out[i] = np.asarray(img, np.float32) / 255.0
    return out


def layers(images: NDArray[np.float32], rtv: dict[str, Any], device: str) -> tuple[NDArray, NDArray]:
    """RTV structure and ``0.5 + texture`` of a stack, in batches on ``device``."""
    from core.device import resolve_device
    from core.texture.rtv import RTVConfig, rtv_smooth

    cfg = RTVConfig(**rtv)
    dev = resolve_device(device)
    s = np.empty_like(images)
    for i in range(0, len(images), 128):
        x = torch.from_numpy(images[i : i + 128].transpose(0, 3, 1, 2).copy()).to(dev)  # (B, 3, S, S)
        s[i : i + 128] = rtv_smooth(x, cfg).permute(0, 2, 3, 1).cpu().numpy()
    return s, np.clip(0.5 + images - s, 0.0, 1.0).astype(np.float32)


def prepare_cue_conflict(
    root: str | Path,
    size: int = 64,
    test_fraction: float = 0.3,
    split_seed: int = 0,
    rtv: dict[str, Any] | None = None,
    device: str = "auto",
) -> StudyData:
    """Load, split by shape source and decompose the Geirhos set.

    Args:
        root: ``shared/data/cue-conflict`` (holding ``cue-conflict/``, ``edges/``, ``filled-silhouettes/``).
        size: Side in pixels the images are resized to.
        test_fraction: Fraction of each class's shape sources held out.
        split_seed: Seed of the split.
        rtv: RTV parameters (defaults: lam 0.01, sigma 1.0 at this small size).
        device: Where RTV runs.
    """
    if not (16 <= size <= 256):
        raise ConfigError(f"size must be in [16, 256] pixels, got {size}", field="size")
    r = Path(root)
    items, classes = load_cue_conflict(r)
    train, test = split_by_shape(items, test_fraction, split_seed)
    idx = {c: i for i, c in enumerate(classes)}
    rtv = {"lam": 0.01, "sigma": 1.0, **(rtv or {})}

    def arrays(its: list[CueItem]) -> tuple[NDArray, NDArray, NDArray, NDArray, NDArray]:
        img = _load([i.path for i in its], size)
        s, t = layers(img, rtv, device)
        lab_s = np.array([idx[i.shape] for i in its], np.int64)
        lab_t = np.array([idx[i.texture] for i in its], np.int64)
        return img, s, t, lab_s, lab_t

    tr, te = arrays(train), arrays(test)
    test_ids = sorted({i.shape_id for i in test})
    plain: list[tuple[Path, str, str]] = []
    for sub in ("filled-silhouettes", "edges"):
        if (r / sub).is_dir():
            plain += [p for p in load_plain_set(r / sub, classes) if p[2] in test_ids]
    plain_img = _load([p[0] for p in plain], size) if plain else np.zeros((0, size, size, 3), np.float32)
    return StudyData(classes, *tr, *te, plain_img, np.array([idx[p[1]] for p in plain], np.int64), test_ids)


def _soft_ce_step(model: torch.nn.Module, batch: Any, train: bool) -> Any:
    from core.train import StepOutput

    x, y = batch  # (B, 3, S, S), (B, K) soft targets
    if train:
        flip = torch.rand(x.shape[0], device=x.device) < 0.5
        x = torch.where(flip[:, None, None, None], x.flip(-1), x)
    logits = model(x)
    loss = -(y * torch.log_softmax(logits.float(), 1)).sum(1).mean()
    agree = (logits.argmax(1) == y.argmax(1)).float().mean().item()
    return StepOutput(loss=loss, metrics={"top1_vs_major_label": agree}, n=int(x.shape[0]))


def train_model(
    data: StudyData,
    kind: str = "mixed",
    k: float = 1.0,
    seed: int = 0,
    epochs: int = 12,
    lr: float = 3e-3,
    batch_size: int = 64,
    train_fraction: float = 1.0,
    width: int = 16,
    device: str = "cpu",
) -> TinyCNN:
    """Train one model of the study (last-epoch weights; no test data is used for selection).

    Args:
        data: From :func:`prepare_cue_conflict`.
        kind: ``mixed`` (images, target ``k*s + (1-k)*t``), ``structure`` (structure layers, shape
            labels) or ``texture`` (texture layers, texture labels).
        k: Mixing coefficient for ``mixed``.
        seed: Seed of initialisation, subsampling and batches.
        train_fraction: Fraction of training images used (random subset by ``seed``).
    """
    from torch.utils.data import DataLoader, TensorDataset

    from core.train import TrainConfig, fit, set_seed

    if kind not in MODEL_KINDS:
        raise ConfigError(f"unknown model kind {kind!r}; valid: {', '.join(MODEL_KINDS)}", field="kind")
    if not (0 < train_fraction <= 1):
        raise ConfigError(f"train_fraction must be in (0, 1], got {train_fraction}", field="train_fraction")
    n_cls = len(data.classes)
    if n_cls < 2:
        raise DatasetError(f"the dataset has {n_cls} class; at least 2 are needed")
    if kind == "clean":
        if data.train_clean is None or data.train_clean_label is None:
            raise ConfigError(
                "this dataset has no clean photos; use kind mixed, structure or texture", field="kind"
            )
        x, s = data.train_clean, torch.from_numpy(data.train_clean_label)
        t = s
    else:
        x = {"mixed": data.train_image, "structure": data.train_structure, "texture": data.train_texture}[
            kind
        ]
        s, t = torch.from_numpy(data.train_shape), torch.from_numpy(data.train_tex)
    kk = {"mixed": k, "structure": 1.0, "texture": 0.0, "clean": 1.0}[kind]
    y = mix_targets(s, t, kk, n_cls)
    rng = np.random.default_rng(seed)
    n = max(1, int(round(train_fraction * len(x))))
    keep = np.sort(rng.permutation(len(x))[:n])
    xt = torch.from_numpy(np.ascontiguousarray(x[keep].transpose(0, 3, 1, 2)))
    set_seed(seed)
    model = TinyCNN(TinyCNNArgs(num_classes=n_cls, width=width))
    gen = torch.Generator().manual_seed(seed)
    loader = DataLoader(TensorDataset(xt, y[keep]), batch_size=batch_size, shuffle=True, generator=gen)
    cfg = TrainConfig(epochs=epochs, lr=lr, weight_decay=1e-4, seed=seed, device=device, progress=False)
    return fit(model, loader, None, _soft_ce_step, cfg).model.cpu().eval()  # type: ignore[return-value]


def evaluate_model(model: TinyCNN, data: StudyData) -> dict[str, float]:
    """Metrics on the held-out shapes (never on training data).

    Returns:
        ``accuracy`` (top-1 vs the shape class = folder label, all test images), ``clean_accuracy``
        (held-out clean photos when the data has them, else test images whose shape == texture
        class), ``structure_only_accuracy`` (silhouettes + edges of the test shapes), ``structure_layer_accuracy`` (RTV structure of test images vs shape),
        ``texture_only_accuracy`` (texture layers vs texture class), ``shape_bias`` (Geirhos) and counts.
    """
    p_img = predict(model, data.test_image).argmax(1)
    p_str = predict(model, data.test_structure).argmax(1)
    p_tex = predict(model, data.test_texture).argmax(1)
    clean = data.test_shape == data.test_tex
    if data.test_clean is not None and data.test_clean_label is not None:
        clean_acc = float((predict(model, data.test_clean).argmax(1) == data.test_clean_label).mean())
        n_clean = len(data.test_clean)
    else:
        clean_acc = float((p_img[clean] == data.test_shape[clean]).mean()) if clean.any() else float("nan")
        n_clean = int(clean.sum())
    out: dict[str, float] = {
        "accuracy": float((p_img == data.test_shape).mean()),
        "clean_accuracy": clean_acc,
        "structure_layer_accuracy": float((p_str == data.test_shape).mean()),
        "texture_only_accuracy": float((p_tex == data.test_tex).mean()),
        "n_test": float(len(p_img)),
        "n_clean": float(n_clean),
    }
    if len(data.plain_image):
        p_plain = predict(model, data.plain_image).argmax(1)
        out["structure_only_accuracy"] = float((p_plain == data.plain_label).mean())
        out["n_structure_only"] = float(len(p_plain))
    else:
        out["structure_only_accuracy"] = float("nan")
    sb = shape_bias(p_img, data.test_shape, data.test_tex)
    out.update({key: float(v) for key, v in sb.items()})
    return out
