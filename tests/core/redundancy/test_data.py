from __future__ import annotations

import numpy as np
import pytest

from core.errors import DatasetError, ImageReadError, InputError
from core.redundancy.data import load_image_folder, stratified_folds

from .conftest import write_folder


def test_mixed_sizes_are_resized(tiny_folder):
    data = load_image_folder(tiny_folder, size=16, folds=3)
    assert data.images.shape == (12, 16, 16, 3) and data.images.dtype == np.uint8
    assert data.classes == ("a", "b") and data.counts() == {"a": 6, "b": 6}
    assert data.labels.tolist() == [0] * 6 + [1] * 6


def test_max_per_class(tiny_folder):
    assert load_image_folder(tiny_folder, size=8, folds=2, max_per_class=3).counts() == {"a": 3, "b": 3}


def test_one_class_is_refused(tmp_path):
    root = write_folder(tmp_path / "one", {"only": 5})
    with pytest.raises(DatasetError, match="at least two"):
        load_image_folder(root, folds=2)


def test_class_with_fewer_images_than_folds(tmp_path):
    root = write_folder(tmp_path / "few", {"a": 5, "tiny": 2})
    with pytest.raises(DatasetError, match=r"'tiny' has 2.*lower --folds"):
        load_image_folder(root, folds=3)
    assert load_image_folder(root, size=8, folds=2).counts() == {"a": 5, "tiny": 2}


def test_missing_folder_corrupt_image_and_bad_args(tmp_path, tiny_folder):
    with pytest.raises(DatasetError, match="does not exist"):
        load_image_folder(tmp_path / "nope")
    (tiny_folder / "a" / "broken.png").write_bytes(b"not a png")
    with pytest.raises(ImageReadError, match="broken.png"):
        load_image_folder(tiny_folder, size=8, folds=2)
    with pytest.raises(InputError):
        load_image_folder(tiny_folder, size=4)
    with pytest.raises(InputError):
        load_image_folder(tiny_folder, folds=1)


def test_stratified_folds_partition_and_balance():
    labels = np.array([0] * 7 + [1] * 5 + [2] * 3, dtype=np.int64)
    parts = stratified_folds(labels, 3, seed=1)
    joined = np.sort(np.concatenate(parts))
    assert joined.tolist() == list(range(15))
    for p in parts:
        counts = np.bincount(labels[p], minlength=3)
        assert counts[0] in (2, 3) and counts[1] in (1, 2) and counts[2] == 1
    assert [p.tolist() for p in stratified_folds(labels, 3, seed=1)] == [p.tolist() for p in parts]
    assert [p.tolist() for p in stratified_folds(labels, 3, seed=2)] != [p.tolist() for p in parts]
