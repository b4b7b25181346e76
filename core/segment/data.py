"""Segmenter datasets: synthetic scenes (seeded) and any labelme folder, with per-image partial labels.

Each item is ``(image, target, label_mask)``: (3, H, W) float32 RGB in [0, 255], (C, H, W) float32 0/1
masks, (C,) float32 1 where the class was labelled on that photo. A labelme photo counts as labelled for a
class when one of its shapes has that label, when its flags hold ``labelled_<class>: true`` (e.g. a photo
verified to hold no coin), or when its flag ``complete`` is true (every class labelled).
"""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import torch
from numpy.typing import NDArray
from torch.utils.data import Dataset

from core.errors import DatasetError
from core.segment.model import CLASSES
from core.segment.scenes import SceneConfig, render_scene

__all__ = ["SyntheticSegDataset", "LabelmeSegDataset", "labelme_item", "TRAIN_SEED_BASE", "HELDOUT_SEED_BASE"]

#: Training scenes use seeds from here up; held-out evaluation uses HELDOUT_SEED_BASE and up (never trained on).
TRAIN_SEED_BASE = 0
HELDOUT_SEED_BASE = 1_000_000


def _to_item(
    image: NDArray[np.uint8], masks: list[NDArray[np.bool_]], labelled: list[bool]
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    x = torch.from_numpy(np.ascontiguousarray(image)).permute(2, 0, 1).float()  # (3, H, W)
    y = torch.from_numpy(np.stack(masks).astype(np.float32))  # (C, H, W)
    return x, y, torch.tensor(labelled, dtype=torch.float32)


class SyntheticSegDataset(Dataset):
    """``n`` rendered scenes, item ``i`` from seed ``seed_base + i`` (all classes labelled). Cached in memory."""

    def __init__(
        self, n: int, seed_base: int = TRAIN_SEED_BASE, config: SceneConfig | None = None, flip: bool = True
    ):
        self.n, self.seed_base, self.config, self.flip = n, seed_base, config or SceneConfig(), flip
        self._cache: dict[int, tuple[torch.Tensor, torch.Tensor, torch.Tensor]] = {}

    def __len__(self) -> int:
        return self.n

    def __getitem__(self, i: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        if i not in self._cache:
            s = render_scene(self.seed_base + i, self.config)
            self._cache[i] = _to_item(s.image, [s.screw_mask, s.coin_mask], [True, True])
        x, y, lm = self._cache[i]
        if self.flip and torch.rand(()) < 0.5:
            x, y = x.flip(-1), y.flip(-1)
        return x, y, lm


def labelme_item(
    json_path: Path, classes: tuple[str, ...] = CLASSES, size: int | None = None
) -> tuple[NDArray[np.uint8], list[NDArray[np.bool_]], list[bool]]:
    """Read one labelme file: the photo, one mask per class, and which classes were labelled.

    Raises:
        AnnotationError: malformed JSON (from core.annotation).
        DatasetError: the photo it names cannot be read.
    """
    from core.annotation import load_label_file, shapes_to_mask

    lf = load_label_file(json_path)
    img_path = (json_path.parent / lf.image_path).resolve()
    bgr = cv2.imread(str(img_path), cv2.IMREAD_COLOR)
    if bgr is None:
        raise DatasetError("cannot read the photo this label file names; fix imagePath", path=img_path)
    image = cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
    h, w = image.shape[:2]
    flags = {**lf.flags}
    present = {s.label for s in lf.shapes}
    masks = [shapes_to_mask(lf.shapes, h, w, label=c) for c in classes]
    labelled = [
        c in present or flags.get(f"labelled_{c}", False) or flags.get("complete", False) for c in classes
    ]
    if size is not None:
        s = size / max(h, w)
        nw, nh = max(int(round(w * s)), 1), max(int(round(h * s)), 1)
        image = cv2.resize(image, (nw, nh), interpolation=cv2.INTER_AREA)
        masks = [
            cv2.resize(m.astype(np.uint8), (nw, nh), interpolation=cv2.INTER_NEAREST).astype(bool)
            for m in masks
        ]
        canvas = np.zeros((size, size, 3), np.uint8)
        canvas[:nh, :nw] = image
        image = canvas
        padded = []
        for m in masks:
            mm = np.zeros((size, size), bool)
            mm[:nh, :nw] = m
            padded.append(mm)
        masks = padded  # type: ignore
    return image, masks, labelled  # type: ignore


class LabelmeSegDataset(Dataset):
    """Every labelme JSON under ``root`` (recursively) that labels at least one of ``classes``.

    Photos are resized (longer side = ``size``) and padded to a square so they batch with synthetic scenes.

    Raises:
        DatasetError: the folder is missing or holds no usable label file.
    """

    def __init__(self, root: str | Path, classes: tuple[str, ...] = CLASSES, size: int = 256):
        self.root, self.classes, self.size = Path(root), classes, size
        if not self.root.is_dir():
            raise DatasetError("dataset folder not found", path=self.root)
        self.files: list[Path] = []
        for p in sorted(self.root.rglob("*.json")):
            try:
                raw = json.loads(p.read_text(encoding="utf-8"))
            except (OSError, ValueError):
                continue
            if not isinstance(raw, dict) or "shapes" not in raw:
                continue
            labels = {s.get("label") for s in raw.get("shapes", []) if isinstance(s, dict)}
            flags = raw.get("flags") or {}
            if (
                labels & set(classes)
                or flags.get("complete")
                or any(flags.get(f"labelled_{c}") for c in classes)
            ):
                self.files.append(p)
        if not self.files:
            raise DatasetError(
                f"no labelme file under this folder labels any of {list(classes)}; label screws/coins first",
                path=self.root,
            )

    def __len__(self) -> int:
        return len(self.files)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        return _to_item(*labelme_item(self.files[i], self.classes, self.size))
