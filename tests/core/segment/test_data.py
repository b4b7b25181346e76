from __future__ import annotations

import json

import cv2
import numpy as np
import pytest
import torch

from core.errors import ConfigError, DatasetError
from core.segment.data import LabelmeSegDataset, StudioSegDataset, labelme_item, polygon_mask, studio_masks
from core.segment.train import render_shape


def test_polygon_mask_hand_computed_square() -> None:
    # A 4x3 px rectangle with corners on pixel centres (1,1)-(4,3): cv2 fills the closed boundary -> 4 x 3 px.
    m = polygon_mask(np.array([[1.0, 1.0], [4.0, 1.0], [4.0, 3.0], [1.0, 3.0]]), 6, 8)
    assert m.shape == (6, 8) and m.dtype == bool
    assert m.sum() == 12 and m[1:4, 1:5].all()
    assert not polygon_mask(None, 6, 8).any()


def test_studio_dataset_mixes_full_and_partial_labels() -> None:
    ds = StudioSegDataset(10, width=96, height=64, search_share=0.5, crop=0, augment=False)
    assert len(ds) == 10
    x, y, lm = ds[0]
    assert x.shape == (3, 64, 96) and y.shape == (2, 64, 96) and x.dtype == torch.float32
    # Search photos: a screw and a coin, both labelled, both visible.
    for i in range(5):
        assert ds.labelled[i].tolist() == [1.0, 1.0]
        assert ds.masks[i, 0].any() and ds.masks[i, 1].any()
    # Train-mode photos label only the object they show (partial labels), never both.
    for i in range(5, 10):
        lab = ds.labelled[i].tolist()
        assert lab in ([1.0, 0.0], [0.0, 1.0])
        assert ds.masks[i, lab.index(1.0)].any()


def test_studio_dataset_is_deterministic_and_crops() -> None:
    a = StudioSegDataset(2, width=96, height=64, search_share=1.0, augment=False)
    b = StudioSegDataset(2, width=96, height=64, search_share=1.0, augment=False)
    np.testing.assert_array_equal(a.images, b.images)
    c = StudioSegDataset(2, width=96, height=64, crop=32)
    x, y, _ = c[1]
    assert x.shape == (3, 32, 32) and y.shape == (2, 32, 32)


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [({"width": 100}, "size"), ({"search_share": 1.5}, "search_share"), ({"crop": 96}, "crop")],
)
def test_studio_dataset_rejects_bad_settings(kwargs, field) -> None:
    args = {"n": 1, "width": 96, "height": 64, **kwargs}
    with pytest.raises(ConfigError) as e:
        StudioSegDataset(**args)
    assert e.value.field == field


def test_render_shape() -> None:
    assert render_shape(256) == (192, 256)
    assert render_shape(384) == (288, 384)
    with pytest.raises(ConfigError, match="multiple of 32"):
        render_shape(250)


def test_studio_masks_match_photo() -> None:
    from core.catalog.catalog import load_arrays
    from core.synth import StudioConfig, render_index

    photo = render_index(load_arrays(), "search", 3, 0, StudioConfig(width=128, height=96))
    screw, coin = studio_masks(photo)
    assert screw.shape == coin.shape == (96, 128)
    assert screw.any() and coin.any()


def test_labelme_dataset_fits_non_square_canvas(tmp_path) -> None:
    import cv2

    img = np.zeros((40, 80, 3), np.uint8)
    cv2.imwrite(str(tmp_path / "a.png"), img)
    label = {
        "version": "5.5.0",
        "flags": {},
        "shapes": [
            {"label": "screw", "points": [[10, 10], [30, 10], [30, 20], [10, 20]], "shape_type": "polygon"}
        ],
        "imagePath": "a.png",
        "imageData": None,
        "imageHeight": 40,
        "imageWidth": 80,
    }
    (tmp_path / "a.json").write_text(json.dumps(label))
    image, masks, labelled = labelme_item(tmp_path / "a.json", size=(32, 96))
    assert image.shape == (32, 96, 3) and masks[0].shape == (32, 96)
    assert labelled == [True, False]  # the coin channel stays unknown, not "no coin"
    ds = LabelmeSegDataset(tmp_path, size=(32, 96))
    assert len(ds) == 1 and ds[0][0].shape == (3, 32, 96)


def test_labelme_dataset_without_labels_says_what_to_do(tmp_path) -> None:
    with pytest.raises(DatasetError, match="label screws/coins first"):
        (tmp_path / "x.json").write_text(json.dumps({"shapes": [], "imagePath": "x.png"}))
        LabelmeSegDataset(tmp_path)
    with pytest.raises(DatasetError, match="not found"):
        LabelmeSegDataset(tmp_path / "missing")


def test_studio_dataset_renders_picked_photos_and_training_adds_hard_cases() -> None:
    """``picks`` renders given (mode, seed, index) photos; the segmenter's ``hard_*`` options add the first
    ``hard_n`` search photos of ``hard_seed`` with a finish on a background to the studio photos."""
    from core.catalog.catalog import load_arrays
    from core.segment.train import SegTrainOptions, build_data
    from core.synth.dataset import matching_indices

    ds = StudioSegDataset(0, width=96, height=64, augment=False, picks=[("search", 7, 3), ("train", 8, 0)])
    ref = StudioSegDataset(4, seed=7, width=96, height=64, search_share=1.0, augment=False)
    assert len(ds) == 2 and np.array_equal(ds.images[0], ref.images[3])
    opt = SegTrainOptions(
        n_train=2,
        n_val=1,
        size=96,
        crop=0,
        hard_n=2,
        hard_seed=9,
        hard_finish="black_oxide",
        hard_background="wood",
    )
    train, _ = build_data(opt)
    assert len(train) == 4
    hard = train.datasets[1]
    want = matching_indices(load_arrays(), "search", 9, 2, "black_oxide", "wood")
    ref = StudioSegDataset(0, width=96, height=64, augment=False, picks=[("search", 9, i) for i in want])
    assert np.array_equal(hard.images, ref.images) and (hard.labelled == 1).all()


def test_render_scale_shrinks_big_renders_with_their_masks() -> None:
    """``render_scale``: each photo rendered larger and shrunk to the dataset's size, as the segmenter shrinks a
    1280x960 search photo; the label polygons shrink with it (pixel-centre convention)."""
    from core.catalog.catalog import load_arrays
    from core.synth import StudioConfig, render_index

    picks = [("search", 7, 0), ("search", 7, 1)]
    ds = StudioSegDataset(0, width=96, height=64, augment=False, picks=picks, render_scale=2.0)
    assert ds.images.shape == (2, 64, 96, 3) and ds.labelled.tolist() == [[1.0, 1.0], [1.0, 1.0]]
    arrays = load_arrays()
    for i, (mode, seed, k) in enumerate(picks):
        big = render_index(arrays, mode, seed, k, StudioConfig(width=192, height=128))
        screw, coin = studio_masks(big)
        for c, m in enumerate((screw, coin)):
            assert abs(ds.masks[i, c].sum() - m.sum() / 4) <= 0.15 * m.sum() / 4 + 6
        small = cv2.resize(big.image, (96, 64), interpolation=cv2.INTER_AREA)
        assert np.array_equal(ds.images[i], small)
    with pytest.raises(ConfigError) as e:
        StudioSegDataset(1, width=96, height=64, render_scale=0.5)
    assert e.value.field == "render_scale"
