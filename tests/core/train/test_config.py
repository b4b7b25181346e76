from __future__ import annotations

import os
from dataclasses import dataclass

import pytest

from core.errors import ConfigError
from core.train import TrainConfig, load_yaml, parse_overrides, split_config
from core.train.run_files import write_json_atomic


@dataclass(frozen=True)
class _Opts:
    width: int = 8
    scale: float = 1.0
    sizes: tuple[int, ...] = (1, 2)


def test_yaml_and_overrides_merge_into_both_dataclasses(tmp_path):
    cfg = tmp_path / "c.yaml"
    cfg.write_text("epochs: 4\nlr: 1\nwidth: 16\nsizes: [3, 4]\n")
    values = load_yaml(cfg) | parse_overrides(["epochs=2", "patience=3", "scale=2"])
    train, opts, merged = split_config(values, _Opts)
    assert train == TrainConfig(epochs=2, lr=1.0, patience=3)
    assert opts == _Opts(width=16, scale=2.0, sizes=(3, 4))
    assert merged["train"]["epochs"] == 2 and merged["options"]["width"] == 16


def test_unknown_key_lists_the_valid_ones():
    with pytest.raises(ConfigError, match="valid keys: .*epochs.*width") as e:
        split_config({"epoch": 3}, _Opts)
    assert e.value.field == "epoch"


def test_wrong_types_are_refused():
    with pytest.raises(ConfigError, match="epochs"):
        split_config({"epochs": "many"}, None)
    with pytest.raises(ConfigError, match="width"):
        split_config({"width": 1.5}, _Opts)
    with pytest.raises(ConfigError, match="resume"):
        split_config({"resume": "yes please"}, None)


def test_bad_files_and_overrides(tmp_path):
    with pytest.raises(ConfigError, match="not found"):
        load_yaml(tmp_path / "missing.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("epochs: [1,\n")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_yaml(bad)
    seq = tmp_path / "seq.yaml"
    seq.write_text("- 1\n- 2\n")
    with pytest.raises(ConfigError, match="mapping"):
        load_yaml(seq)
    with pytest.raises(ConfigError, match="key=value"):
        parse_overrides(["epochs"])
    assert parse_overrides(["out_dir=", "monitor=val_acc"]) == {"out_dir": None, "monitor": "val_acc"}


def test_atomic_json_write_keeps_the_old_file_on_failure(tmp_path, monkeypatch):
    target = tmp_path / "progress.json"
    write_json_atomic(target, {"done": 1})

    def boom(src, dst):
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", boom)
    with pytest.raises(OSError):
        write_json_atomic(target, {"done": 2})
    assert target.read_text().count('"done": 1') == 1
    assert [p.name for p in tmp_path.iterdir()] == ["progress.json"]  # no temp file left behind
