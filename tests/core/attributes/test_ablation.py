"""The whole-photo / box / part ablation end to end on a fake-small budget (tiny arrays, 1 epoch)."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from core.attributes.__main__ import main
from core.attributes.ablation import AblationConfig, ablation_markdown, run_ablation
from core.attributes.data import INPUT_SIZE, save_crop_arrays
from core.attributes.views import VIEW_SIZE
from core.errors import ConfigError, DatasetError


def _arrays(n: int, seed: int, views: bool = True) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    sizes = {**INPUT_SIZE, **(VIEW_SIZE if views else {})}
    out = {k: rng.integers(0, 255, (n, h, w, 3), dtype=np.uint8) for k, (h, w) in sizes.items()}
    for k in INPUT_SIZE:
        out[f"y_{k}"] = np.zeros(n, np.int64)
    out["y_head"][: n // 4] = 3  # majority class 0 on both splits: the baseline is exactly 1 - 1/4
    out["sku_row"] = np.arange(n)
    return out


@pytest.fixture
def files(tmp_path):
    save_crop_arrays(tmp_path / "train.npz", _arrays(16, 0))
    save_crop_arrays(tmp_path / "test.npz", _arrays(8, 1))
    return tmp_path


def _cfg(files, **kw) -> AblationConfig:
    base = AblationConfig(
        train=str(files / "train.npz"),
        test=str(files / "test.npz"),
        n_train=12,
        n_test=8,
        epochs=1,
        batch_size=8,
        backbone="lcnet_050",
        photo_size=(24, 32),
        box_size=(24, 24),
        attributes=("head", "thread"),
    )
    return dataclasses.replace(base, **kw)


def test_run_ablation_rows_and_report(files):
    cfg = _cfg(files)
    seen: list[int] = []
    rows = run_ablation(cfg, log=None, on_row=lambda r: seen.append(len(r)))
    assert seen == [1, 2, 3, 4, 5, 6]
    assert [(r.attribute, r.arm) for r in rows] == [
        (a, arm) for a in ("head", "thread") for arm in ("photo", "box", "part")
    ]
    by = {(r.attribute, r.arm): r for r in rows}
    assert by["head", "photo"].input_hw == (24, 32) and by["head", "box"].input_hw == (24, 24)
    assert by["thread", "part"].input_hw == INPUT_SIZE["thread"]
    assert all(0.0 <= r.accuracy <= 1.0 and r.n_train == 12 and r.n_test == 8 for r in rows)
    assert by["head", "part"].majority == pytest.approx(0.75) and by["head", "part"].classes == 32
    md = ablation_markdown(rows, cfg, "python -m core.attributes ablation --out x.md")
    assert "| head | 32 |" in md and "| thread | 4 |" in md and "0.750" in md
    assert "1 epochs" in md and "n = 12 training screws" in md and "--out x.md" in md
    assert "Partial" not in md
    assert "Partial: 2 of 6 models" in ablation_markdown(rows[:2], cfg, "cmd", partial=True)


def test_cli_writes_the_report(files):
    out = files / "docs" / "ablation.md"
    argv = [
        "ablation",
        "--out",
        str(out),
        "--train",
        str(files / "train.npz"),
        "--test",
        str(files / "test.npz"),
    ]
    argv += ["--n-train", "8", "--n-test", "4", "--epochs", "1", "--backbone", "lcnet_050"]
    argv += ["--attributes", "tip", "--arms", "part"]
    assert main(argv) == 0
    text = out.read_text()
    assert "| tip | 12 |" in text and "--attributes tip" in text


def test_bad_config_and_old_crop_files(files, tmp_path):
    with pytest.raises(ConfigError, match="valid"):
        _cfg(files, arms=("crop",))
    with pytest.raises(ConfigError, match="valid"):
        _cfg(files, attributes=("colour",))
    save_crop_arrays(tmp_path / "old.npz", _arrays(8, 2, views=False))  # written before the views existed
    with pytest.raises(DatasetError, match="core.attributes crops"):
        run_ablation(_cfg(files, train=str(tmp_path / "old.npz"), arms=("photo",)), log=None)
    assert (
        main(
            [
                "ablation",
                "--out",
                str(tmp_path / "x.md"),
                "--train",
                str(tmp_path / "old.npz"),
                "--test",
                str(tmp_path / "old.npz"),
                "--arms",
                "box",
                "--attributes",
                "head",
            ]
        )
        == 2
    )
