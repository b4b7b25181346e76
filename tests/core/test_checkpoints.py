from __future__ import annotations

import logging
from pathlib import Path

import pytest
import torch
from torch import nn

from core.checkpoints import (
    Checkpoint,
    build_from_checkpoint,
    clean_state_dict,
    load_checkpoint,
    load_into,
    save_checkpoint,
)
from core.errors import CheckpointError


def tiny_net(width: int = 4, classes: int = 3) -> nn.Module:
    return nn.Sequential(
        nn.Conv2d(3, width, 3, padding=1),
        nn.BatchNorm2d(width),
        nn.ReLU(),
        nn.AdaptiveAvgPool2d(1),
        nn.Flatten(),
        nn.Linear(width, classes),
    )


def _net(seed: int = 0, **arch: int) -> nn.Module:
    torch.manual_seed(seed)
    model = tiny_net(**arch)
    model[1].running_mean.uniform_()  # buffers must travel too
    return model


def _same_weights(a: nn.Module, b: nn.Module) -> bool:
    sa, sb = a.state_dict(), b.state_dict()
    return sa.keys() == sb.keys() and all(torch.equal(sa[k], sb[k]) for k in sa)


class NotWeights:
    """A custom class: unpickling it would mean importing and running project code."""

    def __init__(self) -> None:
        self.value = 3


@pytest.mark.parametrize("suffix", [".safetensors", ".pt"])
def test_round_trip_both_formats(tmp_path: Path, suffix: str):
    model = _net(width=5)
    path = save_checkpoint(
        tmp_path / "sub" / f"m{suffix}", model, arch={"width": 5}, meta={"epoch": 7, "acc": 0.5}
    )
    ckpt = load_checkpoint(path)
    assert isinstance(ckpt, Checkpoint)
    assert ckpt.arch == {"width": 5} and ckpt.meta == {"epoch": 7, "acc": 0.5}
    assert ckpt.format == ("safetensors" if suffix == ".safetensors" else "torch")
    assert all(t.device.type == "cpu" for t in ckpt.state_dict.values())
    rebuilt = build_from_checkpoint(path, tiny_net)
    assert _same_weights(rebuilt, model)
    assert not _same_weights(_net(seed=1, width=5), model)  # the comparison can fail
    assert sorted(p.name for p in path.parent.iterdir()) == [path.name]  # no temp file left


def test_ddp_and_compile_prefixes_are_stripped(tmp_path: Path):
    model = _net()
    wrapped = torch.compile(nn.DataParallel(model))  # keys: _orig_mod.module.0.weight ...
    assert next(iter(wrapped.state_dict())).startswith("_orig_mod.module.")
    torch.save(wrapped.state_dict(), tmp_path / "raw.pth")  # a user's raw prefixed state_dict
    ckpt = load_checkpoint(tmp_path / "raw.pth")
    assert set(ckpt.state_dict) == set(model.state_dict()) and ckpt.arch == {}
    fresh = _net(seed=2)
    assert load_into(fresh, ckpt.state_dict) == ([], [])
    assert _same_weights(fresh, model)
    # saving a wrapped model writes clean keys; loading into a wrapped model works too
    save_checkpoint(tmp_path / "w.safetensors", wrapped, arch={})
    target = torch.compile(_net(seed=3))
    load_into(target, load_checkpoint(tmp_path / "w.safetensors").state_dict)
    assert _same_weights(target._orig_mod, model)
    assert clean_state_dict({"enc._orig_mod.w": 1, "module.module.x": 2}) == {"enc.w": 1, "x": 2}


@pytest.mark.parametrize("wrapper", ["state_dict", "model", "model_state_dict"])
def test_wrapped_user_files(tmp_path: Path, wrapper: str):
    model = _net()
    torch.save(
        {wrapper: model.state_dict(), "epoch": 90, "optimizer": {"lr": 0.1}}, tmp_path / "imagenet.pth"
    )
    fresh = _net(seed=4)
    load_into(fresh, load_checkpoint(tmp_path / "imagenet.pth").state_dict)
    assert _same_weights(fresh, model)


def test_strict_mismatch_lists_missing_unexpected_and_shapes(tmp_path: Path):
    state = _net(width=4).state_dict()
    state["extra.weight"] = torch.zeros(1)
    del state["5.bias"]
    state["5.weight"] = torch.zeros(3, 8)
    with pytest.raises(CheckpointError) as info:
        load_into(_net(width=4), state)
    msg = str(info.value)
    assert "missing (1): 5.bias" in msg and "unexpected (1): extra.weight" in msg
    assert "5.weight checkpoint (3, 8) vs model (3, 4)" in msg and "strict=False" in msg


def test_non_strict_loads_matching_and_logs(caplog: pytest.LogCaptureFixture):
    source, target = _net(seed=0), _net(seed=5)
    state = source.state_dict()
    state["5.weight"] = torch.zeros(3, 8)  # wrong shape: skipped, reported as missing
    state["extra"] = torch.zeros(1)
    with caplog.at_level(logging.WARNING, logger="core.checkpoints"):
        missing, unexpected = load_into(target, state, strict=False)
    assert missing == ["5.weight"] and unexpected == ["extra"]
    assert torch.equal(target[0].weight, source[0].weight)
    assert not torch.equal(target[5].weight, torch.zeros(3, 4))
    assert "shape mismatch" in caplog.text and "unexpected" in caplog.text


def test_build_with_wrong_arch_is_explained(tmp_path: Path):
    save_checkpoint(tmp_path / "a.safetensors", _net(width=4), arch={"width": 4, "depth": 9})
    with pytest.raises(CheckpointError, match="does not fit tiny_net"):
        build_from_checkpoint(tmp_path / "a.safetensors", tiny_net)
    save_checkpoint(tmp_path / "b.safetensors", _net(width=4), arch={"width": 6})
    with pytest.raises(CheckpointError, match="shape mismatch") as info:
        build_from_checkpoint(tmp_path / "b.safetensors", tiny_net)
    assert "b.safetensors" in str(info.value)
    save_checkpoint(tmp_path / "c.pt", _net(), arch={})
    with pytest.raises(CheckpointError, match="no architecture config"):
        build_from_checkpoint(tmp_path / "c.pt", tiny_net)


def test_pickled_custom_class_is_refused(tmp_path: Path):
    torch.save({"state_dict": _net().state_dict(), "extra": NotWeights()}, tmp_path / "evil.pt")
    with pytest.raises(CheckpointError, match="pickled Python objects.*NotWeights.*arbitrary code") as info:
        load_checkpoint(tmp_path / "evil.pt")
    assert "state_dict()" in str(info.value)


def test_corrupt_missing_and_empty_files(tmp_path: Path):
    with pytest.raises(CheckpointError, match="not found"):
        load_checkpoint(tmp_path / "nope.safetensors")
    good = save_checkpoint(tmp_path / "m.safetensors", _net(), arch={"width": 4})
    (tmp_path / "cut.safetensors").write_bytes(good.read_bytes()[:40])
    with pytest.raises(CheckpointError, match="safetensors.*corrupt"):
        load_checkpoint(tmp_path / "cut.safetensors")
    pt = save_checkpoint(tmp_path / "m.pt", _net(), arch={})
    (tmp_path / "cut.pt").write_bytes(pt.read_bytes()[:200])
    with pytest.raises(CheckpointError, match="not a readable PyTorch checkpoint"):
        load_checkpoint(tmp_path / "cut.pt")
    (tmp_path / "text.pth").write_text("hello")
    with pytest.raises(CheckpointError, match="not a readable PyTorch checkpoint"):
        load_checkpoint(tmp_path / "text.pth")
    torch.save({"epoch": 3}, tmp_path / "noweights.pt")
    with pytest.raises(CheckpointError, match="no state_dict found"):
        load_checkpoint(tmp_path / "noweights.pt")


def test_unknown_suffix_is_sniffed(tmp_path: Path):
    good = save_checkpoint(tmp_path / "m.safetensors", _net(), arch={"width": 4})
    (tmp_path / "weights.data").write_bytes(good.read_bytes())
    assert load_checkpoint(tmp_path / "weights.data").arch == {"width": 4}
    (tmp_path / "junk.data").write_bytes(b"0123456789abcdef")
    with pytest.raises(CheckpointError, match="unknown checkpoint type"):
        load_checkpoint(tmp_path / "junk.data")


def test_save_validates_and_is_atomic(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    with pytest.raises(CheckpointError, match="suffix"):
        save_checkpoint(tmp_path / "m.onnx", _net(), arch={})
    with pytest.raises(CheckpointError, match="JSON-able"):
        save_checkpoint(tmp_path / "m.safetensors", _net(), arch={"act": nn.ReLU})
    with pytest.raises(CheckpointError, match="not a tensor"):
        save_checkpoint(tmp_path / "m.pt", {"w": torch.zeros(1), "step": 3}, arch={})  # type: ignore[dict-item]
    tied = nn.Linear(2, 2)
    shared = {"a": tied.weight, "b": tied.weight}  # tied weights share storage
    save_checkpoint(tmp_path / "tied.safetensors", shared, arch={})
    assert torch.equal(load_checkpoint(tmp_path / "tied.safetensors").state_dict["b"], tied.weight.detach())

    target = save_checkpoint(tmp_path / "keep.pt", _net(), arch={"width": 4})
    before = target.read_bytes()

    def broken_save(obj: object, f: object, *args: object, **kwargs: object) -> None:
        Path(str(f)).write_bytes(b"PK partial")
        raise OSError("No space left on device")

    monkeypatch.setattr(torch, "save", broken_save)
    with pytest.raises(CheckpointError, match="disk space"):
        save_checkpoint(target, _net(seed=9), arch={"width": 4})
    assert target.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["keep.pt", "tied.safetensors"]
