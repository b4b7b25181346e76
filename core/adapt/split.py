"""The train / held-out split of an adaptation run, by photo (never two screws of a photo on both sides).

When the dataset has a ``split.json`` (written by the workbench, :mod:`core.datasets.split`), it is reused:
its ``train`` photos train and its ``val`` + ``test`` photos are held out (this command does no model
selection, so both are unseen); photos labelled after that split was saved are assigned the same way the
workbench would (:func:`core.datasets.make_split` keeps earlier assignments). Otherwise the photos are
shuffled with the seed and ``test_share`` of them held out. The split used is saved in the run folder.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from core.errors import DatasetError, InputError

__all__ = ["PhotoSplit", "split_photos"]


@dataclass(frozen=True)
class PhotoSplit:
    """Photos used for fine-tuning and photos held out for the before/after evaluation."""

    train: tuple[str, ...]
    held_out: tuple[str, ...]
    source: str

    def to_json(self) -> dict[str, object]:
        return {"source": self.source, "train": list(self.train), "held_out": list(self.held_out)}


def split_photos(root: str | Path, photos: list[str], test_share: float = 0.3, seed: int = 0) -> PhotoSplit:
    """Split the labelled ``photos`` of the dataset at ``root``.

    Args:
        root: the dataset folder (its ``split.json`` is reused when present).
        photos: photo keys (path relative to ``root``) that carry at least one labelled screw.
        test_share: share of photos held out when the dataset has no split.
        seed: shuffling seed when the dataset has no split.

    Raises:
        InputError: ``test_share`` is not in (0, 1).
        DatasetError: fewer than 2 photos, or one side of the split would be empty.
    """
    from core.datasets.split import load_split, make_split

    if not 0.0 < test_share < 1.0:
        raise InputError(
            f"test share must be between 0 and 1 (e.g. 0.3), got {test_share}", field="test_share"
        )
    names = sorted(set(photos))
    if len(names) < 2:
        raise DatasetError(
            f"too few photos for a train / held-out split: {len(names)} labelled photo(s); label at least 2 "
            "(better 20+) photos so some can be held out",
            path=root,
        )
    saved = load_split(root)
    if saved is not None:
        # The workbench's split names photos by file name in the dataset folder.
        fractions = (1.0 - test_share, test_share / 2, test_share / 2)
        full = make_split(names, fractions, seed, previous=saved)
        train = tuple(full["train"])
        held = tuple(sorted(full["val"] + full["test"]))
        source = "dataset split.json (train = train; held out = val + test)"
        hint = "edit the dataset's split in the workbench (Datasets page) so both sides have photos"
    else:
        full = make_split(names, (1.0 - test_share, 0.0, test_share), seed)
        train, held = tuple(full["train"]), tuple(full["test"])
        source = f"random by photo, seed {seed}, test share {test_share}"
        hint = "label more photos or change --test-share"
    if not train or not held:
        raise DatasetError(
            f"too few photos for a split: {len(names)} labelled photos give {len(train)} train and "
            f"{len(held)} held-out; {hint}",
            path=root,
        )
    return PhotoSplit(train, held, source)
