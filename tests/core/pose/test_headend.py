"""HeadEndNet: the strip it reads, loading, the locator's turn, and its trainer."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from core.checkpoints import save_checkpoint
from core.errors import CheckpointError, ConfigError
from core.locate import LocateConfig, Locator
from core.pose.headend import (
    HeadEndArch,
    HeadEndNet,
    arch_dict,
    create_headend,
    head_up_prob,
    headend_strip,
    load_headend,
    strips_tensor,
)
from core.pose.train_headend import main as train_main
from core.pose.train_headend import train_headend
from tests.core.locate.test_pipeline import _TruthSegmenter

TINY = {"height": 32, "width": 16, "widths": (4, 8)}


def _bolt(head_up: bool, size: int = 120) -> tuple[np.ndarray, np.ndarray]:
    """A vertical bar with a bright wide head at the top (or bottom) and a grey shank: photo and mask."""
    img = np.full((size, size, 3), 40, np.uint8)
    mask = np.zeros((size, size), bool)
    mask[30:90, 55:65] = True
    img[mask] = 120
    rows = slice(30, 40) if head_up else slice(80, 90)
    mask[rows, 45:75] = True
    img[rows, 45:75] = 250
    return img, mask


def test_the_strip_puts_the_chosen_end_up_and_reaches_past_the_mask() -> None:
    img, mask = _bolt(head_up=True)
    arch = HeadEndArch()
    up = headend_strip(img, mask, (60.0, 60.0), 0.0, 60.0, arch)
    assert up.shape == (arch.height, arch.width, 4) and up.dtype == np.uint8
    bright = np.nonzero((up[:, :, :3] > 200).all(axis=2).any(axis=1))[0]
    assert bright.max() < arch.height / 2  # the head (bright) in the top half
    # 60 px of screw + 30 % either side fill the height: the mask stops 0.3/1.6 of the height from each end
    rows = np.nonzero(up[:, :, 3].max(axis=1) > 127)[0]
    assert abs(rows.min() - arch.height * 0.3 / 1.6) <= 2 and abs(arch.height - 1 - rows.max() - 24) <= 2
    down = headend_strip(img, mask, (60.0, 60.0), 180.0, 60.0, arch)
    # the other end up is exactly the strip turned round, as the trainer turns its strips (no half-pixel shift
    # that would tell a network which way a strip was turned)
    assert np.abs(down.astype(int) - up[::-1, ::-1].astype(int)).max() <= 1
    assert np.nonzero((down[:, :, :3] > 200).all(axis=2).any(axis=1))[0].min() > arch.height / 2
    # the photo beyond the mask is in the strip: a head the mask left out is still seen
    cut = mask.copy()
    cut[30:40] = False
    assert (headend_strip(img, cut, (60.0, 65.0), 0.0, 50.0, arch)[:, :, :3] > 200).any()


def test_a_screw_at_the_photos_border_still_gives_a_strip() -> None:
    img, mask = _bolt(head_up=True)
    s = headend_strip(img[:50], mask[:50], (60.0, 40.0), 0.0, 60.0, HeadEndArch())
    assert s.shape == (128, 48, 4)


def test_headend_loads_from_a_path_and_none_when_not_shipped(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("FVW_MODELS", str(tmp_path / "models"))
    assert load_headend() is None
    with pytest.raises(CheckpointError):
        load_headend(required=True)
    with pytest.raises(CheckpointError, match="nope"):
        load_headend(tmp_path / "nope.safetensors")
    torch.manual_seed(0)
    net = create_headend(**TINY)
    path = save_checkpoint(tmp_path / "h.safetensors", net, arch=arch_dict(net.arch))
    back = load_headend(path)
    assert isinstance(back, HeadEndNet) and back.arch == net.arch
    img, mask = _bolt(True)
    x = strips_tensor(headend_strip(img, mask, (60.0, 60.0), 0.0, 60.0, net.arch)[None])
    with torch.inference_mode():
        assert torch.allclose(back(x), net.eval()(x))
    assert 0.0 < head_up_prob(back, img, mask, (60.0, 60.0), 0.0, 60.0) < 1.0


class _Sure(HeadEndNet):
    """A stand-in that says the same about every strip: logit ``z`` (> 0: the head is up)."""

    def __init__(self, z: float):
        super().__init__(HeadEndArch(**TINY))
        self.z = z

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.full((x.shape[0],), self.z)


@pytest.mark.parametrize(
    ("z", "flip_below", "turned"),
    [(-4.0, 0.5, True), (4.0, 0.5, False), (-4.0, 0.0, False), (0.5, 0.7, True)],
)
def test_the_locator_turns_a_screw_round_when_headend_sees_the_head_below(z, flip_below, turned) -> None:
    img, mask = _bolt(head_up=True)
    seg = _TruthSegmenter(mask, np.zeros_like(mask))
    base = Locator(seg, config=LocateConfig(headend_flip_below=flip_below)).locate(img).screws[0]
    assert abs((base.angle_deg + 180) % 360 - 180) < 2  # the half areas: head up
    res = Locator(seg, config=LocateConfig(headend_flip_below=flip_below), headend=_Sure(z)).locate(img)
    (s,) = res.screws
    assert abs((s.angle_deg - base.angle_deg - (180.0 if turned else 0.0) + 180) % 360 - 180) < 1e-6
    assert s.angle_method.endswith("+headend") == turned
    # the canonical crop follows the turn: head rows hold the bright head only when not turned
    head = s.canonical.head[:, :, :3]
    assert (head.max() > 200) != turned


def test_bad_headend_threshold_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="headend_flip_below"):
        LocateConfig(headend_flip_below=1.5)


def test_train_headend_learns_which_end_is_bright_and_keeps_its_best_step() -> None:
    rng = np.random.default_rng(0)
    arch = HeadEndArch(**TINY)

    def strips(n: int) -> np.ndarray:
        out = []
        for _ in range(n):
            img, mask = _bolt(head_up=True)
            img = np.clip(img.astype(int) + rng.integers(-20, 20, img.shape), 0, 255).astype(np.uint8)
            out.append(headend_strip(img, mask, (60.0, 60.0), float(rng.uniform(-10, 10)), 60.0, arch))
        return np.stack(out)

    rows: list[dict] = []
    net, log, best = train_headend(
        strips(64), strips(16), arch, steps=120, batch=16, lr=5e-3, eval_every=40, on_eval=rows.append
    )
    assert [r["step"] for r in log] == [40, 80, 120] and rows == log
    assert best["val_loss"] == min(r["val_loss"] for r in log)
    assert best["val_accuracy"] >= 0.9
    img, mask = _bolt(head_up=False)  # head at the bottom: "up" (0 deg) is wrong, 180 right
    assert head_up_prob(net, img, mask, (60.0, 60.0), 0.0, 60.0) < 0.5
    assert head_up_prob(net, img, mask, (60.0, 60.0), 180.0, 60.0) > 0.5


@pytest.mark.parametrize("seed", ["1000011", "1000010", "500011", "4499998"])
def test_the_trainer_refuses_held_out_and_validation_seeds(seed, tmp_path, capsys) -> None:
    assert train_main(["--seed", seed, "--out", str(tmp_path / "h.safetensors")]) == 2
    assert "seed" in capsys.readouterr().err
    assert not (tmp_path / "h.safetensors").exists()


def test_the_trainer_writes_progress_metrics_and_the_file(tmp_path, monkeypatch) -> None:
    """The command end to end on a handful of photos, with a stand-in locator (the real one is the shipped
    pipeline, too slow here): progress.json done, one metrics row per evaluation, meta naming the kept step."""
    import core.pose.train_headend as th
    from core.checkpoints import load_checkpoint
    from core.segment.data import studio_masks

    class _Truth:
        def locate(self, image):
            return Locator(_TruthSegmenter(self.screw, np.zeros_like(self.screw))).locate(image)

    truth = _Truth()
    real_masks = studio_masks

    def masks(photo):
        truth.screw = real_masks(photo)[0]
        return real_masks(photo)

    monkeypatch.setattr("core.segment.data.studio_masks", masks)
    monkeypatch.setattr(th, "_pipeline_locator", lambda: truth)
    monkeypatch.setattr(th, "HeadEndArch", lambda: HeadEndArch(**TINY))
    out, run = tmp_path / "h.safetensors", tmp_path / "run"
    argv = [
        "--n",
        "4",
        "--n-short",
        "2",
        "--n-large",
        "0",
        "--val-n",
        "2",
        "--steps",
        "6",
        "--eval-every",
        "3",
    ]
    assert (
        train_main([*argv, "--batch", "4", "--threads", "1", "--out", str(out), "--run-dir", str(run)]) == 0
    )
    prog = json.loads((run / "progress.json").read_text())
    assert prog["status"] == "done" and prog["done"] == prog["total"]
    rows = [json.loads(x) for x in (run / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in rows] == [3, 6]
    meta = load_checkpoint(out).meta
    kept = min(rows, key=lambda r: r["val_loss"])
    assert meta["chosen_step"] == kept["step"] and meta["val_seed"] == 500_011
    assert isinstance(load_headend(out), HeadEndNet)
    # the workbench's Train page launches the same command
    from core.jobs.templates import get_template

    cmd = get_template("headend").command({"photos": 4, "steps": 6})
    assert cmd[:3] == ["python", "-m", "core.pose.train_headend"] and "{run_dir}" in " ".join(cmd)
    assert "--n" in cmd and cmd[cmd.index("--n") + 1] == "4"


def test_default_engine_loads_the_headend_only_when_shipped(tmp_path) -> None:
    from core.search.engine import default_engine
    from core.segment import create_segmenter
    from core.segment.model import arch_dict as seg_arch

    torch.manual_seed(0)
    seg = create_segmenter()
    save_checkpoint(tmp_path / "segmenter" / "segmenter.safetensors", seg, arch=seg_arch(seg.arch))
    assert default_engine(tmp_path).locator.headend is None  # no file: RotationNet / the half areas alone
    net = create_headend(**TINY)
    save_checkpoint(tmp_path / "rotationnet" / "headend.safetensors", net, arch=arch_dict(net.arch))
    assert isinstance(default_engine(tmp_path).locator.headend, HeadEndNet)


def test_locate_cli_headend_flags(tmp_path, capsys) -> None:
    import cv2

    from core.locate.__main__ import main
    from tests.core.locate.test_pipeline import _long_uncut, _photos

    photo = _photos(_long_uncut, n=1, width=512, height=384)[0]
    path = tmp_path / "photo.png"
    cv2.imwrite(str(path), cv2.cvtColor(photo.image, cv2.COLOR_RGB2BGR))
    argv = [str(path), "--coin", photo.meta["coin"]["type"], "--no-edgenet", "--no-coin-edgenet"]
    # a HeadEndNet path that does not exist is a user error with the file named, exit code 2
    assert main([*argv, "--out", str(tmp_path / "a"), "--headend", str(tmp_path / "gone.safetensors")]) == 2
    assert "gone.safetensors" in capsys.readouterr().err
    net = create_headend(**TINY)
    good = save_checkpoint(tmp_path / "h.safetensors", net, arch=arch_dict(net.arch))
    assert main([*argv, "--out", str(tmp_path / "b"), "--headend", str(good)]) == 0
    assert main([*argv, "--out", str(tmp_path / "c"), "--no-headend"]) == 0
    (s,) = json.loads((tmp_path / "c" / "result.json").read_text())["screws"][:1]
    assert s["angle_method"].startswith(("rectangle", "symmetry")) and "headend" not in s["angle_method"]
