from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from core.errors import CheckpointError, ConfigError
from core.segment import Segmenter, create_segmenter, load_segmenter
from core.segment.evaluate import _angle_err, evaluate_heldout, heldout_photos
from core.segment.loss_study import VARIANTS, markdown_table, pixel_figures, run_study
from core.segment.train import SegTrainOptions, export_run, run, warmup_cosine

TINY = SegTrainOptions(n_train=4, n_val=2, size=64, crop=0, batch_size=2, threads=1)


def _cfg(tmp_path, **kw):
    from core.train import TrainConfig

    return TrainConfig(
        epochs=1, lr=1e-3, device="cpu", out_dir=str(tmp_path / "run"), progress=False, resume=False, **kw
    )


def test_angle_error_wraps_and_keeps_head_flips() -> None:
    assert _angle_err(350.0, 10.0) == pytest.approx(20.0)
    assert _angle_err(10.0, 190.0) == pytest.approx(180.0)  # head and tip swapped
    assert _angle_err(100.0, 100.0) == 0.0


def test_warmup_cosine_schedule() -> None:
    f = warmup_cosine(5)
    assert f(0) == pytest.approx(0.3)
    assert f(1) == pytest.approx(1.0 - 0.5 * (1 - math.cos(math.pi / 4)) * 0.98)
    assert f(4) == pytest.approx(0.02)


def test_tiny_training_run_exports_a_loadable_segmenter(tmp_path) -> None:
    opt = SegTrainOptions(**{**TINY.__dict__, "export": str(tmp_path / "seg.safetensors")})
    result = run(_cfg(tmp_path, max_batches_per_epoch=1), opt)
    assert len(result.history) == 1 and "val_loss" in result.history[0]
    model = load_segmenter(tmp_path / "seg.safetensors")
    again = export_run(tmp_path / "run", tmp_path / "again.safetensors")
    for a, b in zip(model.state_dict().values(), load_segmenter(again).state_dict().values(), strict=True):
        torch.testing.assert_close(a, b)


def test_training_options_are_checked(tmp_path) -> None:
    with pytest.raises(ConfigError, match="valid: tversky, dice"):
        run(_cfg(tmp_path), SegTrainOptions(**{**TINY.__dict__, "loss": "focal"}))
    with pytest.raises(ConfigError, match="multiple of 32"):
        run(_cfg(tmp_path), SegTrainOptions(**{**TINY.__dict__, "size": 100}))
    with pytest.raises(CheckpointError, match="segmenter run folder"):
        export_run(tmp_path / "nothing", tmp_path / "x.safetensors")


def test_heldout_photos_are_seeded_and_evaluation_reports_every_figure() -> None:
    a = next(heldout_photos(1, width=128, height=96)).image
    b = next(heldout_photos(1, width=128, height=96)).image
    np.testing.assert_array_equal(a, b)
    torch.manual_seed(0)
    seg = Segmenter(create_segmenter(), infer_size=64)
    out = evaluate_heldout(seg, None, n=1, n_short=1, width=128, height=96)
    for k in (
        "iou_screw",
        "recall_screw",
        "precision_coin",
        "screws_found",
        "short_head_side_correct_geometry",
    ):
        assert k in out
        assert 0.0 <= out[k] <= 1.0
    assert "short_head_side_correct_rotationnet" not in out


def test_pixel_figures_of_a_perfect_segmenter_are_one() -> None:
    from core.segment.data import studio_masks
    from core.segment.predictor import Segmentation

    class Oracle:
        """Looks the photo up by its pixels and returns its true masks."""

        def __init__(self, photos):
            self.truth = {p.image.tobytes(): studio_masks(p) for p in photos}

        def predict(self, image):
            screw, coin = self.truth[image.tobytes()]
            probs = np.stack([screw, coin]).astype(np.float32)
            return Segmentation(probs, ("screw", "coin"), {"screw": [screw], "coin": [coin]})

    photos = list(heldout_photos(2, width=128, height=96))
    out = pixel_figures(Oracle(photos), 2, width=128, height=96)
    assert out["iou_screw"] == out["iou_coin"] == 1.0


def test_loss_study_table_and_unknown_variant(tmp_path) -> None:
    rows = {"dice": {"iou_screw": 0.5, "precision_screw": 0.25, "recall_screw": 1.0}}
    md = markdown_table(rows, "note")
    assert "| dice | 0.500 | 0.250 | 1.000 | nan | nan | nan |" in md and md.endswith("note\n")
    assert len(VARIANTS) == 4
    with pytest.raises(ConfigError, match="valid: dice"):
        run_study(tmp_path, TINY, 1, 1, variants=("focal",))


@pytest.mark.slow
def test_loss_study_runs_end_to_end(tmp_path) -> None:
    rows = run_study(
        tmp_path, TINY, 1, 1, n_eval=1, infer_size=64, variants=("dice", "tversky 0.3/0.7 + bce")
    )
    assert set(rows) == {"dice", "tversky 0.3/0.7 + bce"}
    assert all(0.0 <= r["iou_screw"] <= 1.0 for r in rows.values())
