"""Blob verifier: its view of a blob, the locator's use of it, loading and a tiny training run."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from core.checkpoints import save_checkpoint
from core.errors import CheckpointError, ConfigError, InputError, NoScrewFoundError
from core.locate import LocateConfig, Locator
from core.segment.predictor import Segmentation, check_image, clean_instances
from core.segment.train_verifier import blob_metrics, train_verifier
from core.segment.train_verifier import main as verifier_main
from core.segment.verify import (
    ScrewVerifier,
    VerifierArch,
    arch_dict,
    create_verifier,
    load_verifier,
    verifier_input,
    verify_blobs,
)


def _bar(h: int, w: int, x0: int, y0: int, x1: int, y1: int) -> np.ndarray:
    m = np.zeros((h, w), bool)
    m[y0:y1, x0:x1] = True
    return m


def test_window_lays_the_blob_along_x_whatever_its_angle() -> None:
    img = np.full((120, 160, 3), 90, np.uint8)
    flat = _bar(120, 160, 40, 56, 120, 64)  # 80 x 8, horizontal
    upright = _bar(120, 160, 76, 20, 84, 100)  # the same bar, vertical
    wa, sa = verifier_input(img, flat.astype(np.float32), flat)
    wb, sb = verifier_input(img, upright.astype(np.float32), upright)
    assert wa.shape == (5, 32, 96) and sa.shape == (3,)
    # Same mask window (up to a 180-degree turn, which the training flips cover).
    ma, mb = wa[3] > 0.5, wb[3] > 0.5
    assert max((ma == mb).mean(), (ma == mb[::-1, ::-1]).mean()) > 0.97
    # The bar spans 80 / (1.25 * 81 + 4) of the window's width and lies in its middle rows.
    cols = np.nonzero(ma.any(axis=0))[0]
    assert 68 <= cols.max() - cols.min() + 1 <= 78
    assert ma[16].sum() > 60 and not ma[2].any() and not ma[29].any()
    np.testing.assert_allclose(sa, sb, rtol=1e-5)
    assert sa[0] == pytest.approx(1.0)  # mean probability over the blob
    assert sa[1] == pytest.approx(np.log(640 / (120 * 160)), rel=1e-5)


def test_a_wide_blob_fits_in_the_window() -> None:
    img = np.zeros((100, 100, 3), np.uint8)
    blob = _bar(100, 100, 30, 35, 70, 65)  # 40 x 30: too wide for a 1:3 window at 1.25 x its length
    w, _ = verifier_input(img, blob.astype(np.float32), blob)
    m = w[3] > 0.5
    assert m.any() and not m[0].any() and not m[-1].any()


def test_window_rejects_mismatched_sizes() -> None:
    with pytest.raises(InputError, match="same size"):
        verifier_input(
            np.zeros((10, 10, 3), np.uint8), np.zeros((10, 12), np.float32), np.ones((10, 10), bool)
        )


def test_verify_blobs_gives_one_probability_per_blob() -> None:
    torch.manual_seed(0)
    model = create_verifier(channels=4)
    img = np.random.default_rng(0).integers(0, 255, (96, 128, 3), dtype=np.uint8)
    blobs = [_bar(96, 128, 10, 10, 60, 18), _bar(96, 128, 70, 40, 78, 90)]
    p = verify_blobs(model, img, np.full((96, 128), 0.8, np.float32), blobs)
    assert len(p) == 2 and all(0.0 <= v <= 1.0 for v in p)
    assert verify_blobs(model, img, np.zeros((96, 128), np.float32), []) == []


class _AreaVerifier(ScrewVerifier):
    """Says "screw" for blobs larger than 1 % of the photo (scalar 1 is the log area share)."""

    def __init__(self) -> None:
        super().__init__(VerifierArch(channels=4))

    def forward(self, x: torch.Tensor, scalars: torch.Tensor) -> torch.Tensor:
        return 10.0 * (scalars[:, 1] - np.log(0.01))


class _Masks:
    classes = ("screw", "coin")

    def __init__(self, screw: np.ndarray, coin: np.ndarray):
        self.screw, self.coin = screw, coin

    def predict(self, image: np.ndarray) -> Segmentation:
        check_image(image)
        probs = np.stack([self.screw, self.coin]).astype(np.float32)
        inst = {"screw": clean_instances(probs[0], 0.5, 12), "coin": clean_instances(probs[1], 0.5, 12)}
        return Segmentation(probs, self.classes, inst)


def _two_blobs() -> tuple[np.ndarray, np.ndarray]:
    img = np.full((200, 300, 3), 128, np.uint8)
    big = _bar(200, 300, 40, 90, 200, 104)  # 160 x 14 = 3.7 % of the photo
    small = _bar(200, 300, 240, 20, 246, 40)  # 6 x 20 = 0.2 %
    return img, big | small


def test_locator_drops_the_blobs_the_verifier_rejects() -> None:
    img, screws = _two_blobs()
    seg = _Masks(screws, np.zeros_like(screws))
    cfg = LocateConfig(refine_edges=False)
    plain = Locator(seg, None, cfg).locate(img)
    assert len(plain.screws) == 2 and all(s.verify_score is None for s in plain.screws)
    res = Locator(seg, None, cfg, verifier=_AreaVerifier()).locate(img)
    assert len(res.screws) == 1 and res.screws[0].verify_score > 0.99
    assert res.screws[0].mask.sum() == 160 * 14
    # The segmentation handed on (overlay, IoU) holds the kept blob only.
    assert res.segmentation.mask("screw").sum() == 160 * 14
    assert res.screws[0].to_json()["verify_score"] > 0.99
    # with_config keeps the verifier.
    assert Locator(seg, None, cfg, verifier=_AreaVerifier()).with_config(coin="euro_1").verifier is not None


def test_all_blobs_rejected_keeps_the_best_or_says_no_screw() -> None:
    img, screws = _two_blobs()
    seg = _Masks(screws, np.zeros_like(screws))
    strict = LocateConfig(refine_edges=False, verify_min=1.0)
    res = Locator(seg, None, strict, verifier=_AreaVerifier()).locate(img)
    assert len(res.screws) == 1 and res.screws[0].mask.sum() == 160 * 14  # the best one, though < verify_min
    with pytest.raises(NoScrewFoundError, match="no screw found"):
        Locator(
            seg,
            None,
            LocateConfig(refine_edges=False, verify_min=1.0, verify_keep_best=False),
            verifier=_AreaVerifier(),
        ).locate(img)


def test_verify_min_must_be_a_probability() -> None:
    with pytest.raises(ConfigError, match="verify_min"):
        LocateConfig(verify_min=1.5)


def test_load_verifier_round_trip_and_missing_files(tmp_path, monkeypatch) -> None:
    torch.manual_seed(1)
    model = create_verifier(channels=4).eval()
    path = save_checkpoint(tmp_path / "v.safetensors", model, arch=arch_dict(model.arch))
    back = load_verifier(path)
    x, s = torch.rand(2, 5, 32, 96), torch.rand(2, 3)
    with torch.inference_mode():
        torch.testing.assert_close(back(x, s), model(x, s))
    monkeypatch.setenv("FVW_MODELS", str(tmp_path / "empty"))
    assert load_verifier() is None  # nothing shipped: the locator keeps every blob
    with pytest.raises(CheckpointError):
        load_verifier(required=True)
    with pytest.raises(CheckpointError):
        load_verifier(tmp_path / "missing.safetensors")


def _toy(n: int, seed: int) -> dict[str, np.ndarray]:
    """Screws = thin bars in the mask channel, clutter = round blobs; the scalars say nothing."""
    rng = np.random.default_rng(seed)
    x = np.zeros((n, 5, 32, 96), np.float32)
    y = (np.arange(n) % 2).astype(np.float32)
    yy, xx = np.mgrid[:32, :96]
    for i in range(n):
        x[i, :3] = rng.uniform(0, 1, (3, 1, 1))
        if y[i]:
            m = (abs(yy - 16) <= rng.integers(1, 4)) & (abs(xx - 48) <= rng.integers(25, 38))
        else:
            m = (yy - 16) ** 2 + ((xx - 48) / 2.0) ** 2 <= rng.integers(8, 14) ** 2
        x[i, 3] = x[i, 4] = m
    return {"x": x.astype(np.float16), "s": rng.normal(size=(n, 3)).astype(np.float32), "y": y}


def test_training_learns_a_separable_toy_task() -> None:
    model, log = train_verifier(
        _toy(128, 0), _toy(64, 1), epochs=6, batch=16, lr=5e-3, channels=4, progress=False
    )
    assert len(log) == 6 and isinstance(model, ScrewVerifier)
    best = min(log, key=lambda r: r["val_loss"])
    assert best["accuracy"] >= 0.9 and best["auc"] >= 0.95


def test_blob_metrics_counts_kept_screws_and_rejected_clutter() -> None:
    p = np.array([0.9, 0.8, 0.3, 0.6, 0.1])
    y = np.array([1, 1, 1, 0, 0], np.float32)
    m = blob_metrics(p, y)
    assert m["screws_kept"] == pytest.approx(2 / 3) and m["clutter_rejected"] == pytest.approx(0.5)
    assert m["accuracy"] == pytest.approx(3 / 5)
    assert m["auc"] == pytest.approx(5 / 6)  # 5 of the 6 screw / clutter pairs are ordered right


def test_cli_refuses_held_out_seeds_and_bad_sample_files(tmp_path, capsys) -> None:
    """One-line errors (exit 2), not tracebacks."""
    assert verifier_main(["collect", "--seed", "1000011", "--n", "1", "--out", str(tmp_path / "a.npz")]) == 2
    assert "held out" in capsys.readouterr().err
    bad = tmp_path / "bad.npz"
    bad.write_text("not a numpy file")
    assert verifier_main(["train", "--data", str(bad), "--out", str(tmp_path / "v.safetensors")]) == 2
    assert "collect" in capsys.readouterr().err


def test_one_go_run_writes_a_model_progress_and_metrics(tmp_path, capsys) -> None:
    import json

    from core.jobs.templates import get_template

    out = tmp_path / "run"
    assert verifier_main(["run", "--out-dir", str(out), "--photos", "4", "--short", "2", "--val-photos", "3",
                          "--epochs", "2"]) == 0  # fmt: skip
    model = load_verifier(out / "verifier.safetensors")
    assert isinstance(model, ScrewVerifier)
    prog = json.loads((out / "progress.json").read_text())
    assert prog["status"] == "done" and prog["done"] == prog["total"] and prog["epochs"] == 2
    rows = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    assert [r["epoch"] for r in rows] == [1, 2] and all("val_loss" in r for r in rows)
    # the workbench's Train page launches the same command
    cmd = get_template("blob_verifier").command({"photos": 4})
    assert cmd[:4] == ["python", "-m", "core.segment.train_verifier", "run"] and "{run_dir}" in cmd
    capsys.readouterr()
    assert verifier_main(["run", "--out-dir", str(out), "--photos", "0", "--short", "0"]) == 2
    assert "photos" in capsys.readouterr().err


def test_collect_can_score_edgenet_outlines(tmp_path, monkeypatch, capsys) -> None:
    """``collect --edgenet`` gives the verifier the blobs it scores in the locator: redrawn by EdgeNet."""
    import core.segment.edgenet as edgenet_module
    from core.segment.edgenet import arch_dict as edge_arch
    from core.segment.edgenet import create_edgenet
    from core.segment.train_verifier import collect

    net = create_edgenet(width=4)
    path = tmp_path / "edgenet.safetensors"
    save_checkpoint(path, net.state_dict(), arch=edge_arch(net.arch))
    seen: list[int] = []

    def redraw(model, image, prob, mask, **kwargs):  # one pixel off every blob, so the samples show it
        seen.append(int(mask.sum()))
        out = mask.copy()
        out[tuple(a[0] for a in np.nonzero(mask))] = False
        return out

    monkeypatch.setattr(edgenet_module, "edgenet_refine", redraw)
    plain = collect("search", 91, 2, progress=False)
    assert not seen
    redrawn = collect("search", 91, 2, progress=False, edgenet=str(path))
    assert seen and len(redrawn["y"]) == len(plain["y"])
    assert not np.array_equal(redrawn["x"], plain["x"])
    out = str(tmp_path / "a.npz")
    assert (
        verifier_main(["collect", "--seed", "91", "--n", "1", "--edgenet", "nope.safetensors", "--out", out])
        == 2
    )
    assert "no such file" in capsys.readouterr().err and not (tmp_path / "a.npz").exists()
    run_dir = tmp_path / "run"
    assert verifier_main(["run", "--out-dir", str(run_dir), "--photos", "1", "--edgenet", "nope"]) == 2
    assert "no such file" in capsys.readouterr().err and not run_dir.exists()


def test_edgenet_option_names_a_file_the_shipped_one_or_none(tmp_path, monkeypatch) -> None:
    from core.segment.train_verifier import _edgenet_file

    assert _edgenet_file("none") is None and _edgenet_file(None) is None
    assert _edgenet_file("shipped") is not None and _edgenet_file("shipped").endswith("edgenet.safetensors")
    monkeypatch.setenv("FVW_MODELS", str(tmp_path))  # no shipped EdgeNet: the locator has none either
    assert _edgenet_file("shipped") is None
    with pytest.raises(ConfigError, match="no such file"):
        _edgenet_file(str(tmp_path / "missing.safetensors"))
