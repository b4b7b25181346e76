"""CoinEdgeNet: its training targets, its profiles, the fit it drives, its command and its place in the locator."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
import torch

from core.checkpoints import load_checkpoint, save_checkpoint
from core.errors import CheckpointError
from core.measure import EllipseFit
from core.measure.coin_edgenet import (
    CoinEdgeArch,
    CoinEdgeNet,
    arch_dict,
    create_coin_edgenet,
    load_coin_edgenet,
    profile_features,
    refine_ellipse_learned,
)
from core.measure.coin_edges import outline_normals
from core.measure.train_coin_edgenet import main as train_main
from core.measure.train_coin_edgenet import normal_crossings, true_ellipse
from tests.core.measure.test_coin_edges import TRUE, _coin_photo


def _constant_net(offset: float) -> CoinEdgeNet:
    """A net that reads nothing and moves every point ``offset`` px outwards."""
    net = create_coin_edgenet(hidden=8)
    with torch.no_grad():
        for p in net.parameters():
            p.zero_()
        net.mlp[-1].bias.fill_(offset)
    return net.eval()


def test_normal_crossings_by_hand() -> None:
    circle = EllipseFit(50.0, 50.0, 10.0, 10.0, 0.0, 0.0, 0)
    x = np.array([58.0, 50.0, 50.0, 80.0])
    y = np.array([50.0, 61.0, 50.0, 80.0])
    nx = np.array([1.0, 0.0, 1.0, 1.0])
    ny = np.array([0.0, 1.0, 0.0, 0.0])
    t = normal_crossings(circle, x, y, nx, ny, reach=6.0)
    # 2 px further out; 1 px back in; from the centre the edge is 10 px away (beyond reach); never crosses
    assert t[0] == pytest.approx(2.0, abs=0.01)
    assert t[1] == pytest.approx(-1.0, abs=0.01)
    assert math.isnan(t[2]) and math.isnan(t[3])


def test_true_ellipse_of_a_tilted_circle_polygon() -> None:
    th = np.linspace(0, 2 * np.pi, 200, endpoint=False)
    r = math.radians(30.0)
    u, v = 20.0 * np.cos(th), 14.0 * np.sin(th)
    poly = np.stack([40 + u * math.cos(r) - v * math.sin(r), 30 + u * math.sin(r) + v * math.cos(r)], 1)
    fit = true_ellipse(poly)
    assert (fit.cx, fit.cy, fit.a, fit.b) == pytest.approx((40.0, 30.0, 20.0, 14.0), abs=0.02)
    assert fit.angle_deg == pytest.approx(30.0, abs=0.2)


def test_profiles_follow_the_outline() -> None:
    arch = CoinEdgeArch()
    img = _coin_photo(shadow=False)
    feat, (x, y, nx, ny) = profile_features(img, TRUE, arch)
    assert feat.shape == (len(x), arch.features) and feat.dtype == np.float32
    assert np.allclose(np.hypot(nx, ny), 1.0)
    # on the true outline each profile steps from the coin (inside, first samples) to the background
    prof = feat[:, : 3 * arch.samples].reshape(len(x), arch.samples, 3).mean(-1)
    assert np.median(prof[:, 0] - prof[:, -1]) > 1.0
    assert np.allclose(feat[:, -1], TRUE.a / 50.0)
    # the points lie on the ellipse
    xs, ys, _, _ = outline_normals(TRUE)
    assert np.allclose(xs, x) and np.allclose(ys, y)


def test_the_fit_goes_where_the_net_says() -> None:
    img = _coin_photo(shadow=False)
    stay = refine_ellipse_learned(img, TRUE, _constant_net(0.0))
    assert stay is not None
    assert (stay.cx, stay.cy, stay.a, stay.b) == pytest.approx((TRUE.cx, TRUE.cy, TRUE.a, TRUE.b), abs=0.05)
    grow = refine_ellipse_learned(img, TRUE, _constant_net(1.0), passes=1)
    assert grow is not None
    assert grow.a == pytest.approx(TRUE.a + 1.0, abs=0.1) and grow.b == pytest.approx(TRUE.b + 1.0, abs=0.1)


def test_the_fit_refuses_no_edge_and_a_runaway() -> None:
    flat = np.full((180, 210, 3), 128, np.uint8)
    assert refine_ellipse_learned(flat, TRUE, _constant_net(0.0)) is None  # no colour step: no coin edge
    img = _coin_photo(shadow=False)
    # 4 px per pass, two passes: 8 px, more than max_move x a (3.8 px)
    assert refine_ellipse_learned(img, TRUE, _constant_net(4.0), passes=2) is None
    # an ellipse wholly outside the photo (a degenerate fit of a coin cut by the border) has nothing to read
    outside = EllipseFit(-200.0, 50.0, 30.0, 28.0, 0.0, 0.0, 0)
    assert refine_ellipse_learned(img, outside, _constant_net(0.0)) is None


def test_train_command_writes_a_loadable_net_and_its_progress(tmp_path: Path) -> None:
    from core.jobs.templates import get_template

    out, run = tmp_path / "coin.safetensors", tmp_path / "run"
    argv = [
        "--seed",
        "191",
        "--n",
        "4",
        "--val-n",
        "2",
        "--epochs",
        "2",
        "--out",
        str(out),
        "--run-dir",
        str(run),
    ]
    assert train_main(argv) == 0
    net = load_coin_edgenet(out)
    assert isinstance(net, CoinEdgeNet) and not net.training
    assert net(torch.zeros(3, net.arch.features)).shape == (3,)
    meta = load_checkpoint(out).meta
    rows = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    chosen = min(rows, key=lambda r: (r["val_loss"], -r["epoch"]))  # the lowest, the later one on a tie
    assert meta["chosen_epoch"] == chosen["epoch"] and meta["val_loss"] == pytest.approx(chosen["val_loss"])
    prog = json.loads((run / "progress.json").read_text())
    assert prog["status"] == "done" and prog["done"] == prog["total"] and prog["epochs"] == 2
    assert [r["epoch"] for r in rows] == [1, 2] and all(r["val_loss"] > 0 for r in rows)
    # the workbench's Train page launches the same command
    cmd = get_template("coin_edgenet").command({"photos": 4})
    assert cmd[:3] == ["python", "-m", "core.measure.train_coin_edgenet"] and "{run_dir}" in " ".join(cmd)


def test_train_command_refuses_held_out_and_bad_numbers(
    tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    out = tmp_path / "coin.safetensors"
    assert train_main(["--seed", "1000011", "--n", "4", "--out", str(out)]) == 2
    assert "held out" in capsys.readouterr().err
    assert train_main(["--n", "0", "--out", str(out)]) == 2
    assert not out.exists()


def test_loading(tmp_path: Path) -> None:
    with pytest.raises(CheckpointError):
        load_coin_edgenet(tmp_path / "missing.safetensors")
    net = create_coin_edgenet(hidden=16, half_length=3.0, step=0.5)
    path = save_checkpoint(tmp_path / "c.safetensors", net, arch=arch_dict(net.arch))
    back = load_coin_edgenet(path)
    assert back is not None and back.arch == net.arch
    x = torch.randn(5, net.arch.features)
    assert torch.allclose(back(x), net.eval()(x))


def test_shipped_net_on_a_real_photo_of_coins() -> None:
    """A real photo (scikit-image's ``coins``: 24 old coins, grey, not a studio render): from a rough start (a
    thresholded blob grown by a pixel) the shipped network's ellipse lies on each coin's rim where the colour step
    puts it (no ground truth here; the two methods disagree by ~0.2 px on these sharp, shadowless coins), and
    it is not the start it was given (the grown blobs' ellipses are ~1 px too large)."""
    import cv2
    from skimage import data

    from core.measure import fit_ellipse, refine_ellipse_on_edges

    net = load_coin_edgenet()
    if net is None:
        pytest.skip("no shipped models/measure/coin_edgenet.safetensors")
    grey = data.coins()
    img = np.stack([grey] * 3, -1)
    th = cv2.adaptiveThreshold(
        cv2.GaussianBlur(grey, (0, 0), 2), 1, cv2.ADAPTIVE_THRESH_MEAN_C, cv2.THRESH_BINARY, 51, -5
    )
    th = cv2.morphologyEx(th, cv2.MORPH_OPEN, np.ones((5, 5), np.uint8))
    n, lab, stats, _ = cv2.connectedComponentsWithStats(th)
    moved: list[float] = []
    for k in range(1, n):
        if stats[k, cv2.CC_STAT_AREA] < 300:
            continue
        contours, _ = cv2.findContours((lab == k).astype(np.uint8), cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_NONE)
        blob = np.zeros(grey.shape, np.uint8)
        cv2.drawContours(blob, contours, -1, 1, -1)
        start = fit_ellipse(cv2.dilate(blob, np.ones((3, 3), np.uint8)).astype(bool))
        assert start is not None
        step, learned = refine_ellipse_on_edges(img, start), refine_ellipse_learned(img, start, net)
        assert step is not None and learned is not None
        assert math.hypot(learned.cx - step.cx, learned.cy - step.cy) < 0.6
        assert abs(learned.a - step.a) < 0.8 and abs(learned.b - step.b) < 0.8
        moved.append(start.a + start.b - learned.a - learned.b)
    assert len(moved) == 24
    assert float(np.mean(moved)) > 1.0  # it moved in from the grown blobs
