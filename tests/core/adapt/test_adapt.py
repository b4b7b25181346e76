"""Domain adaptation on a tiny studio-rendered labelme folder with a tiny random-init classifier."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch

from core.adapt import AdaptConfig, adapt_attribute, evaluate_crops, load_labelled_crops, scan_labels
from core.adapt.cli import main
from core.annotation import load_label_file, shape_to_mask
from core.attributes.data import INPUT_SIZE, crops_from_mask
from core.attributes.models import model_stages
from core.attributes.train import build_model, load_attribute_model
from core.catalog.taxonomy import index_of, values_of
from core.checkpoints import save_checkpoint
from core.datasets import save_split
from core.errors import AnnotationError, CheckpointError, ConfigError, DatasetError
from core.imageio import read_image


@pytest.fixture(scope="module")
def studio(tmp_path_factory) -> Path:
    """8 studio photos (320x240, screw + coin), labelme JSON with the screw's attributes."""
    from core.synth.dataset import generate_dataset
    from core.synth.render import StudioConfig

    root = tmp_path_factory.mktemp("studio")
    generate_dataset(root, 8, seed=11, mode="search", config=StudioConfig(width=320, height=240))
    return root


@pytest.fixture()
def folder(studio, tmp_path) -> Path:
    """A private copy the test may edit."""
    return Path(shutil.copytree(studio, tmp_path / "data"))


def _tiny_model(tmp_path: Path, attribute: str = "head") -> Path:
    torch.manual_seed(0)
    arch = {
        "kind": "timm",
        "attribute": attribute,
        "num_classes": len(values_of(attribute)),
        "backbone": "lcnet_050",
        "input_size": list(INPUT_SIZE[attribute]),
    }
    return save_checkpoint(tmp_path / f"{attribute}.safetensors", build_model(arch), arch=arch)


def _screw_json_values(root: Path, attribute: str) -> dict[str, str]:
    out = {}
    for p in sorted(root.glob("*.json")):
        raw = json.loads(p.read_text())
        for s in raw["shapes"]:
            if s["label"] == "screw":
                out[raw["imagePath"]] = s["attributes"][attribute]
    return out


def test_crops_are_the_production_crops_with_the_json_labels(studio):
    crops = load_labelled_crops(studio, "head")
    truth = _screw_json_values(studio, "head")
    assert sorted(crops.photos) == sorted(truth)
    assert crops.x.shape == (len(truth), 48, 48, 3) and crops.x.dtype == np.uint8
    assert [int(v) for v in crops.y] == [index_of("head", truth[p]) for p in crops.photos]
    # The same cut the search engine makes from a mask: polygon -> mask -> crops_from_mask.
    p0 = crops.photos[0]
    lf = load_label_file(studio / Path(p0).with_suffix(".json"))
    image = read_image(studio / p0)
    mask = shape_to_mask(next(s for s in lf.shapes if s.label == "screw"), *image.shape[:2])
    ref, _ = crops_from_mask(image, mask)
    np.testing.assert_array_equal(crops.x[0], ref.head)
    assert crops.x[0].max() > 0  # not an empty letterbox


def test_adapt_writes_checkpoint_report_split(folder, tmp_path):
    model_path = _tiny_model(tmp_path)
    original, _ = load_attribute_model(model_path)
    out = tmp_path / "run"
    cfg = AdaptConfig(
        model=str(model_path),
        data=str(folder),
        out=str(out),
        epochs=2,
        freeze_stages=2,
        batch_size=4,
        lr=3e-3,
    )
    res = adapt_attribute(cfg)

    split = json.loads((out / "split.json").read_text())
    assert set(split["train"]).isdisjoint(split["held_out"])
    assert sorted(split["train"] + split["held_out"]) == sorted(_screw_json_values(folder, "head"))
    assert len(split["held_out"]) == round(0.3 * 8) and res.photos_held_out == len(split["held_out"])

    # "before" is the shipped model on the held-out photos; "after" is the written checkpoint on them.
    crops = load_labelled_crops(folder, "head")
    x_ho, y_ho = crops.subset(set(split["held_out"]))
    assert res.before == evaluate_crops(original, x_ho, y_ho)
    adapted, arch = load_attribute_model(out / "head.safetensors")
    assert arch["backbone"] == "lcnet_050" and arch["attribute"] == "head"
    assert res.after == pytest.approx(evaluate_crops(adapted, x_ho, y_ho), abs=1e-6)
    assert res.n_held_out == len(y_ho) and res.n_train == len(crops.y) - len(y_ho)
    assert len(res.history) == 2

    # The first 2 stages are frozen (weights and BatchNorm statistics); the rest moved.
    names = {id(m): n for n, m in original.named_modules()}
    prefixes = tuple(names[id(m)] + "." for stage in model_stages(original)[:2] for m in stage)
    changed = {
        k: not torch.equal(v, adapted.state_dict()[k])
        for k, v in original.state_dict().items()
        if v.dtype.is_floating_point
    }
    frozen_keys = [k for k in changed if k.startswith(prefixes)]
    assert any(k.endswith("running_mean") for k in frozen_keys)
    assert frozen_keys and not any(changed[k] for k in frozen_keys)
    assert any(changed.values())

    md = (out / "report.md").read_text()
    assert "| held-out metric (n = " in md and "before (shipped)" in md and "after (adapted)" in md
    rep = json.loads((out / "report.json").read_text())
    assert rep["before"]["accuracy"] == res.before["accuracy"] and rep["attribute"] == "head"
    from core.inventory import find_models

    (info,) = find_models(out)
    assert info.metrics["held-out accuracy after"] == round(res.after["accuracy"], 4)


def test_reuses_the_workbench_split(folder, tmp_path):
    photos = sorted(_screw_json_values(folder, "head"))
    save_split(folder, {"train": photos[:5], "val": photos[5:6], "test": photos[6:]})
    res = adapt_attribute(
        AdaptConfig(model=str(_tiny_model(tmp_path)), data=str(folder), out=str(tmp_path / "r"), epochs=0)
    )
    split = json.loads((tmp_path / "r" / "split.json").read_text())
    assert split["train"] == photos[:5] and split["held_out"] == photos[5:]
    assert "split.json" in res.split_source
    assert res.after == res.before  # 0 epochs: nothing changed


def test_no_labelled_screws(folder, tmp_path):
    for p in folder.glob("*.json"):
        raw = json.loads(p.read_text())
        for s in raw["shapes"]:
            s.pop("attributes", None)
        p.write_text(json.dumps(raw))
    with pytest.raises(DatasetError, match="no labelled screws for 'head'.*Label page"):
        scan_labels(folder, "head")
    with pytest.raises(DatasetError, match="no labelled screws"):
        scan_labels(tmp_path / "data" / "..", "tip")  # a folder holding no label files at all


def test_unknown_value_lists_valid_ones(folder):
    p = sorted(folder.glob("*.json"))[0]
    raw = json.loads(p.read_text())
    raw["shapes"][0]["attributes"]["head"] = "hexagonal"
    p.write_text(json.dumps(raw))
    with pytest.raises(
        AnnotationError, match=r"'hexagonal' in synth_000000.json.*Valid head values: flat, oval"
    ):
        scan_labels(folder, "head")


def test_too_few_photos(folder, tmp_path):
    for p in sorted(folder.glob("*.json"))[1:]:
        p.unlink()
    with pytest.raises(DatasetError, match="too few photos.*1 labelled photo"):
        adapt_attribute(
            AdaptConfig(model=str(_tiny_model(tmp_path)), data=str(folder), out=str(tmp_path / "r"))
        )


def test_bad_model_and_settings(folder, tmp_path):
    with pytest.raises(CheckpointError, match="not found"):
        adapt_attribute(
            AdaptConfig(model=str(tmp_path / "no.safetensors"), data=str(folder), out=str(tmp_path))
        )
    arch = {"kind": "plain", "num_classes": 32, "width": 4}  # no attribute inside
    bare = save_checkpoint(tmp_path / "bare.safetensors", build_model(arch), arch=arch)
    with pytest.raises(CheckpointError, match="names no attribute"):
        adapt_attribute(AdaptConfig(model=str(bare), data=str(folder), out=str(tmp_path)))
    with pytest.raises(ConfigError, match="can freeze 0..7 stages"):
        adapt_attribute(
            AdaptConfig(
                model=str(_tiny_model(tmp_path)), data=str(folder), out=str(tmp_path / "r"), freeze_stages=9
            )
        )
    arch = {"kind": "plain", "attribute": "head", "num_classes": 32, "width": 4, "input_size": [96, 96]}
    old_size = save_checkpoint(tmp_path / "old.safetensors", build_model(arch), arch=arch)
    with pytest.raises(CheckpointError, match="trained on 96x96 crops but the pipeline now cuts 48x48"):
        adapt_attribute(AdaptConfig(model=str(old_size), data=str(folder), out=str(tmp_path)))
    tiny = _tiny_model(tmp_path)
    with pytest.raises(ConfigError, match="must not be the data folder"):
        adapt_attribute(AdaptConfig(model=str(tiny), data=str(folder), out=str(folder)))
    with pytest.raises(ConfigError, match="would overwrite the model"):
        adapt_attribute(AdaptConfig(model=str(tiny), data=str(folder), out=str(tmp_path)))
    with pytest.raises(ConfigError, match="epochs"):
        AdaptConfig(model="m", data="d", out="o", epochs=-1)


def test_cli_runs_and_reports_errors_in_one_line(folder, tmp_path, capsys):
    model = _tiny_model(tmp_path, "tip")
    out = tmp_path / "cli"
    code = main(
        ["attributes", "--model", str(model), "--data", str(folder), "--out", str(out), "--epochs", "1"]
    )
    assert code == 0
    printed = capsys.readouterr().out
    assert "| accuracy |" in printed and (out / "tip.safetensors").is_file()
    code = main(["attributes", "--model", str(model), "--data", str(tmp_path / "missing"), "--out", str(out)])
    err = capsys.readouterr().err
    assert (
        code == 2 and err.startswith("error: labelme folder not found") and len(err.strip().splitlines()) == 1
    )
    code = main(
        ["attributes", "--model", str(model), "--data", str(folder), "--out", str(out), "--test-share", "1.5"]
    )
    err = capsys.readouterr().err
    assert code == 2 and "test share must be between 0 and 1" in err


def test_same_seed_same_weights(folder, tmp_path):
    """Augmentation has its own RNG: a rerun with the same seed must give the same checkpoint."""
    model = _tiny_model(tmp_path, "finish")
    runs = []
    for name in ("a", "b"):
        cfg = AdaptConfig(
            model=str(model), data=str(folder), out=str(tmp_path / name), epochs=1, batch_size=4
        )
        adapt_attribute(cfg)
        runs.append(load_attribute_model(tmp_path / name / "finish.safetensors")[0].state_dict())
    assert all(torch.equal(v, runs[1][k]) for k, v in runs[0].items())
    original = load_attribute_model(model)[0].state_dict()
    assert any(not torch.equal(v, runs[0][k]) for k, v in original.items())


def test_coin_balanced_finish_uses_the_labelled_coin(studio):
    """A finish model trained on ``finish_wb`` is adapted on crops balanced by the photo's coin shape (the
    studio writes the coin type in its description), like the search engine cuts them."""
    from core.attributes.colour import balance_gains, coin_rgb

    plain = load_labelled_crops(studio, "finish")
    wb = load_labelled_crops(studio, "finish", "finish_wb")
    assert plain.photos == wb.photos and not np.array_equal(plain.x, wb.x)
    p0 = wb.photos[0]
    lf = load_label_file(studio / Path(p0).with_suffix(".json"))
    image = read_image(studio / p0)
    h, w = image.shape[:2]
    coin = next(s for s in lf.shapes if s.label == "coin")
    gains = balance_gains(coin_rgb(image, shape_to_mask(coin, h, w)), coin.description)
    mask = shape_to_mask(next(s for s in lf.shapes if s.label == "screw"), h, w)
    ref, _ = crops_from_mask(image, mask, gains=gains)
    np.testing.assert_array_equal(wb.x[0], ref.finish_wb)
