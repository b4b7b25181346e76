"""Attribute training on tiny crop arrays: the engine runs, the checkpoint rebuilds the same model."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from core.attributes.data import INPUT_SIZE, letterbox, save_crop_arrays
from core.attributes.evaluate import evaluate_model
from core.attributes.train import AttributeOptions, load_attribute_model, to_tensor, train_attribute
from core.errors import ConfigError, DatasetError
from core.train import TrainConfig


def _arrays(n: int, seed: int) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    out: dict[str, np.ndarray] = {}
    for k, (h, w) in INPUT_SIZE.items():
        y = rng.integers(0, 4, n)
        x = np.zeros((n, h, w, 3), np.uint8)
        x[:] = (y[:, None, None, None] * 60).astype(np.uint8)  # class = brightness: learnable
        out[k], out[f"y_{k}"] = x, y.astype(np.int64)
    out["sku_row"] = np.arange(n)
    return out


@pytest.mark.parametrize("model", ["colornet", "timm", "strip"])
def test_train_and_reload(tmp_path, model):
    save_crop_arrays(tmp_path / "t.npz", _arrays(48, 0))
    save_crop_arrays(tmp_path / "v.npz", _arrays(24, 1))
    attribute = "finish" if model == "colornet" else "thread"
    opts = AttributeOptions(
        attribute=attribute,
        train=str(tmp_path / "t.npz"),
        val=str(tmp_path / "v.npz"),
        model=model,
        backbone="lcnet_050",
        colornet_width=8,
        strip_width=4,
        batch_size=16,
        freeze=2 if model == "timm" else 0,
        unfreeze_epoch=2,
    )
    cfg = TrainConfig(epochs=2, lr=3e-3, out_dir=str(tmp_path / "run"), progress=False)
    res = train_attribute(cfg, opts)
    assert len(res.history) == 2 and "val_acc" in res.history[-1]
    model2, arch = load_attribute_model(tmp_path / "run" / "model.safetensors")
    assert arch["attribute"] == attribute
    x = to_tensor(_arrays(3, 5)[attribute])
    res.model.eval()
    with torch.no_grad():
        assert torch.allclose(res.model(x), model2(x), atol=1e-5)
    ev = evaluate_model(tmp_path / "run" / "model.safetensors", tmp_path / "v.npz")
    assert ev.attribute == attribute and ev.n == 24 and ev.confusion.sum() == 24
    assert ev.accuracy == pytest.approx(np.trace(ev.confusion) / 24)
    assert f"{attribute}: accuracy" in ev.report()


def test_bad_options_and_missing_data(tmp_path):
    with pytest.raises(ConfigError, match="valid"):
        AttributeOptions(attribute="colour")
    with pytest.raises(ConfigError, match="strip"):
        AttributeOptions(model="resnet")
    save_crop_arrays(tmp_path / "t.npz", _arrays(8, 0))
    with pytest.raises(DatasetError, match="no input 'tip_tall'"):
        opts = AttributeOptions(attribute="tip", input="tip_tall", train=str(tmp_path / "t.npz"))
        train_attribute(TrainConfig(epochs=1, progress=False), opts)
    stale = _arrays(8, 0)
    stale["tip"] = np.zeros((8, 48, 48, 3), np.uint8)  # the tip crop before it became 96 x 48
    save_crop_arrays(tmp_path / "stale.npz", stale)
    with pytest.raises(DatasetError, match="predates a crop change"):
        opts = AttributeOptions(
            attribute="tip", train=str(tmp_path / "stale.npz"), val=str(tmp_path / "stale.npz")
        )
        train_attribute(TrainConfig(epochs=1, progress=False), opts)
    with pytest.raises(DatasetError, match="core.attributes crops"):
        train_attribute(
            TrainConfig(epochs=1, progress=False), AttributeOptions(train=str(tmp_path / "no.npz"))
        )


def test_letterbox_keeps_aspect_and_masks_alpha():
    rgba = np.zeros((40, 10, 4), np.uint8)
    rgba[..., :3] = 200
    rgba[:20, :, 3] = 255  # lower half is background
    out = letterbox(rgba, (48, 48))
    cols = np.flatnonzero(out.any(axis=(0, 2)))
    assert 10 <= cols.size <= 14  # 10 px wide scaled by 48/40 = 12, not stretched to 48
    assert out[40:, :].max() == 0  # alpha-0 rows are black


def test_small_models_continue_from_a_checkpoint_of_the_same_model(tmp_path):
    from core.errors import CheckpointError

    save_crop_arrays(tmp_path / "t.npz", _arrays(32, 0))
    save_crop_arrays(tmp_path / "v.npz", _arrays(16, 1))
    base = dict(train=str(tmp_path / "t.npz"), val=str(tmp_path / "v.npz"), batch_size=16)
    opts = AttributeOptions(attribute="thread", model="strip", strip_width=4, **base)
    train_attribute(TrainConfig(epochs=1, lr=3e-3, out_dir=str(tmp_path / "a"), progress=False), opts)
    first, _ = load_attribute_model(tmp_path / "a" / "model.safetensors")
    # a vanishing lr: the continued run ends where the checkpoint was (every weight, head included; batch-norm
    # running statistics do move, so parameters are compared, not outputs)
    cont = AttributeOptions(
        attribute="thread",
        model="strip",
        strip_width=4,
        init_checkpoint=str(tmp_path / "a" / "model.safetensors"),
        **base,
    )
    res = train_attribute(
        TrainConfig(epochs=1, lr=1e-12, weight_decay=0.0, out_dir=str(tmp_path / "b"), progress=False), cont
    )
    theirs = dict(first.named_parameters())
    for name, p in res.model.named_parameters():
        assert torch.allclose(p.detach(), theirs[name], atol=1e-6), name
    fresh = train_attribute(
        TrainConfig(epochs=1, lr=1e-12, out_dir=str(tmp_path / "d"), progress=False, seed=1),
        AttributeOptions(attribute="thread", model="strip", strip_width=4, **base),
    )
    assert not all(
        torch.allclose(p.detach(), theirs[n], atol=1e-6) for n, p in fresh.model.named_parameters()
    )
    other = AttributeOptions(
        attribute="thread",
        model="strip",
        strip_width=8,
        init_checkpoint=str(tmp_path / "a" / "model.safetensors"),
        **base,
    )
    with pytest.raises(CheckpointError, match="strip_width"):
        train_attribute(TrainConfig(epochs=1, out_dir=str(tmp_path / "c"), progress=False), other)


def test_timm_model_continues_whole_with_init_whole(tmp_path):
    """init_whole keeps the checkpoint's classifier head (continued fine-tuning); without it the head is fresh."""
    from core.errors import CheckpointError

    save_crop_arrays(tmp_path / "t.npz", _arrays(32, 0))
    save_crop_arrays(tmp_path / "v.npz", _arrays(16, 1))
    base = dict(train=str(tmp_path / "t.npz"), val=str(tmp_path / "v.npz"), batch_size=16, attribute="thread")
    opts = AttributeOptions(model="timm", backbone="lcnet_050", **base)
    train_attribute(TrainConfig(epochs=1, lr=3e-3, out_dir=str(tmp_path / "a"), progress=False), opts)
    first, _ = load_attribute_model(tmp_path / "a" / "model.safetensors")
    theirs = dict(first.named_parameters())
    ck = str(tmp_path / "a" / "model.safetensors")
    tiny = TrainConfig(epochs=1, lr=1e-12, weight_decay=0.0, progress=False, seed=1)
    whole = train_attribute(
        _replace(tiny, out_dir=str(tmp_path / "b")),
        AttributeOptions(model="timm", backbone="lcnet_050", init_checkpoint=ck, init_whole=True, **base),
    )
    for name, p in whole.model.named_parameters():
        assert torch.allclose(p.detach(), theirs[name], atol=1e-6), name
    backbone_only = train_attribute(
        _replace(tiny, out_dir=str(tmp_path / "c")),
        AttributeOptions(model="timm", backbone="lcnet_050", init_checkpoint=ck, **base),
    )
    differ = [
        n for n, p in backbone_only.model.named_parameters() if not torch.allclose(p.detach(), theirs[n])
    ]
    assert differ and all(n.startswith(("classifier", "head", "fc", "model.classifier")) for n in differ), (
        differ
    )
    with pytest.raises(CheckpointError, match="backbone"):
        train_attribute(
            _replace(tiny, out_dir=str(tmp_path / "d")),
            AttributeOptions(
                model="timm", backbone="mobilenetv3_small_050", init_checkpoint=ck, init_whole=True, **base
            ),
        )


def _replace(cfg: TrainConfig, **kw) -> TrainConfig:
    import dataclasses

    return dataclasses.replace(cfg, **kw)
