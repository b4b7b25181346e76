from __future__ import annotations

import json

from PIL import Image

from core.inventory import find_datasets, find_models


def _photo(path):
    Image.new("RGB", (4, 3)).save(path)


def test_find_datasets_counts_photos_and_labels(tmp_path):
    ds = tmp_path / "ds1"
    ds.mkdir()
    _photo(ds / "a.jpg")
    _photo(ds / "b.png")
    (ds / "a.json").write_text("{}")
    (tmp_path / "empty").mkdir()
    found = find_datasets(tmp_path)
    assert [(d.name, d.n_photos, d.n_labelled) for d in found] == [("ds1", 2, 1)]


def test_find_datasets_missing_root_is_empty(tmp_path):
    assert find_datasets(tmp_path / "nope") == []


def test_find_models_reads_card_and_metrics(tmp_path):
    (tmp_path / "seg.safetensors").write_bytes(b"x" * 10)
    (tmp_path / "seg.md").write_text("# Segmenter")
    (tmp_path / "seg.metrics.json").write_text(json.dumps({"iou": 0.9}))
    (tmp_path / "notes.txt").write_text("ignored")
    (m,) = find_models(tmp_path)
    assert (m.name, m.size_bytes, m.card, m.metrics) == ("seg", 10, "# Segmenter", {"iou": 0.9})


def test_find_models_falls_back_to_the_folder_card(tmp_path):
    (tmp_path / "segmenter").mkdir()
    (tmp_path / "segmenter" / "segmenter.safetensors").write_bytes(b"x")
    (tmp_path / "segmenter" / "MODEL_CARD.md").write_text("# Seg card")
    (tmp_path / "texture" / "sweep" / "ckpt").mkdir(parents=True)
    (tmp_path / "texture" / "sweep" / "ckpt" / "k=0.5.safetensors").write_bytes(b"x")
    (tmp_path / "texture" / "README.md").write_text("# Texture card")
    (tmp_path / "bare.safetensors").write_bytes(b"x")
    cards = {m.name: m.card for m in find_models(tmp_path)}
    assert cards == {
        "bare": None,
        "segmenter/segmenter": "# Seg card",
        "texture/sweep/ckpt/k=0.5": "# Texture card",
    }


def test_segmenter_names():
    from core.inventory import is_segmenter_name

    assert is_segmenter_name("segmenter/segmenter") and is_segmenter_name("runs/a_SEG.safetensors")
    assert not is_segmenter_name("attributes/head") and not is_segmenter_name("segmenter/rotationnet")
