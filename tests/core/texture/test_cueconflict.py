from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import torch

from core.errors import ConfigError, DatasetError, InputError
from core.texture import (
    load_cue_conflict,
    mix_targets,
    parse_cue_name,
    shape_bias,
    split_by_shape,
    swap_structure_texture,
)


def test_parse_name():
    it = parse_cue_name(Path("x/cat/cat10-elephant3.jpg"))
    assert (it.shape, it.texture, it.shape_id, it.conflict) == ("cat", "elephant", "cat10", True)
    assert not parse_cue_name("dog2-dog1.png").conflict
    with pytest.raises(DatasetError, match="cat3-elephant1"):
        parse_cue_name("cat.jpg")


def test_shape_bias_hand_computed():
    # classes: 0, 1, 2. Rows: (pred, shape, texture)
    rows = [
        (0, 0, 1),  # shape hit
        (1, 0, 1),  # texture hit
        (0, 0, 2),  # shape hit
        (2, 0, 1),  # neither -> ignored
        (1, 1, 1),  # no conflict -> ignored even though correct
        (2, 1, 2),  # texture hit
        (1, 1, 2),  # shape hit
    ]
    p, s, t = zip(*rows, strict=True)
    out = shape_bias(p, s, t)
    assert out == {"shape_bias": 3 / 5, "shape_hits": 3, "texture_hits": 2, "conflict_n": 6}
    assert math.isnan(shape_bias([2], [0], [1])["shape_bias"])
    with pytest.raises(InputError):
        shape_bias([0, 1], [0], [1])


def test_mix_targets_numpy_and_torch():
    y = mix_targets(np.array([0, 2]), np.array([1, 2]), 0.8, 3)
    np.testing.assert_allclose(y, [[0.8, 0.2, 0.0], [0.0, 0.0, 1.0]])
    yt = mix_targets(torch.tensor([1]), torch.tensor([0]), 0.25, 2)
    assert torch.allclose(yt, torch.tensor([[0.75, 0.25]]))
    with pytest.raises(ConfigError, match="k must be"):
        mix_targets(np.array([0]), np.array([1]), 1.2, 2)
    with pytest.raises(DatasetError, match="one|1 class"):
        mix_targets(np.array([0]), np.array([0]), 0.5, 1)


def _fake_set(root: Path, classes: list[str], shapes: int = 3) -> None:
    for c in classes:
        (root / c).mkdir(parents=True)
        for i in range(1, shapes + 1):
            for t in classes:
                (root / c / f"{c}{i}-{t}1.png").write_bytes(b"")


def test_split_keeps_shape_sources_apart(tmp_path):
    _fake_set(tmp_path, ["bear", "cat", "dog"], shapes=4)
    items, classes = load_cue_conflict(tmp_path)
    assert classes == ["bear", "cat", "dog"] and len(items) == 36
    train, test = split_by_shape(items, 0.3, seed=1)
    assert {i.shape_id for i in train}.isdisjoint({i.shape_id for i in test})
    assert len(train) + len(test) == 36
    assert {i.shape for i in test} == set(classes)  # every class keeps test shapes
    with pytest.raises(ConfigError):
        split_by_shape(items, 1.0)


def test_one_class_and_empty_datasets_are_refused(tmp_path):
    _fake_set(tmp_path / "one", ["cat"])
    with pytest.raises(DatasetError, match="one class"):
        load_cue_conflict(tmp_path / "one")
    (tmp_path / "empty").mkdir()
    with pytest.raises(DatasetError, match="no cue-conflict images"):
        load_cue_conflict(tmp_path / "empty")
    with pytest.raises(DatasetError, match="not found"):
        load_cue_conflict(tmp_path / "missing")


def test_swap_structure_texture():
    a = np.full((8, 8, 3), 0.5, np.float32)
    b = np.zeros((8, 8, 3), np.float32)
    b[0, 0] = 0.7
    out = swap_structure_texture(a, b)
    assert out[0, 0, 0] == 1.0 and out[1, 1, 0] == 0.5
    with pytest.raises(InputError, match="same shape"):
        swap_structure_texture(a, b[:4])


def test_real_geirhos_set(shared_data):
    items, classes = load_cue_conflict(shared_data / "cue-conflict")
    assert len(classes) == 16 and len(items) == 1280
    assert sum(not i.conflict for i in items) == 80
    train, test = split_by_shape(items, 0.3)
    assert {i.shape_id for i in train}.isdisjoint({i.shape_id for i in test})


def test_build_swapped_set_from_a_labelled_dataset():
    from core.texture import build_swapped_set

    n, h = 6, 8
    structures = np.stack([np.full((h, h, 3), i / 10, np.float32) for i in range(n)])
    textures = np.stack([np.full((h, h, 3), i / 100, np.float32) for i in range(n)])
    labels = np.array([0, 0, 1, 1, 2, 2])
    imgs, s, t, ia, ib = build_swapped_set(structures, textures, labels, n=20, seed=3)
    assert (labels[ia] == s).all() and (labels[ib] == t).all()
    assert imgs.shape == (20, h, h, 3) and (s != t).all()
    for img, si, ti in zip(imgs, s, t, strict=True):
        # value = structure of some photo of class s + texture of some photo of class t
        a = [i for i in range(n) if labels[i] == si]
        b = [i for i in range(n) if labels[i] == ti]
        assert any(np.isclose(img[0, 0, 0], i / 10 + j / 100) for i in a for j in b)
    with pytest.raises(DatasetError, match="one class"):
        build_swapped_set(structures, textures, np.zeros(n, int), n=4)
    with pytest.raises(InputError, match="must match"):
        build_swapped_set(structures, textures[:3], labels, n=4)
