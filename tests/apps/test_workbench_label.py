from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from core.annotation import load_label_file

PAGE = Path(__file__).resolve().parents[2] / "apps" / "views" / "label.py"


class DiskBackend:
    """Fake mask backend: a disk of radius 12 around each positive click, minus disks around negatives."""

    name = "fake"

    def __init__(self) -> None:
        self.embedded: list[str] = []

    def embed(self, image, image_id=""):
        from core.interactive import Embedding

        self.embedded.append(image_id)
        return Embedding(image_id, image.shape[0], image.shape[1], self.name, None)

    def predict(self, emb, prompt):
        yy, xx = np.mgrid[: emb.height, : emb.width]
        m = np.zeros((emb.height, emb.width), bool)
        for (x, y), lab in zip(prompt.points, prompt.labels, strict=True):
            disk = (xx - x) ** 2 + (yy - y) ** 2 <= 144
            m = (m | disk) if lab == 1 else (m & ~disk)
        return m


def _photo(path: Path, seed: int = 0) -> None:
    rng = np.random.default_rng(seed)
    img = rng.integers(40, 90, (60, 80, 3), dtype=np.uint8)
    cv2.ellipse(img, (40, 30), (16, 9), 15, 0, 360, (120, 210, 230), -1)
    cv2.imwrite(str(path), img)


@pytest.fixture
def dataset(tmp_path, monkeypatch) -> Path:
    ann = tmp_path / "annotations"
    root = ann / "shop"
    root.mkdir(parents=True)
    for i in range(3):
        _photo(root / f"p{i}.png", i)
    monkeypatch.setenv("FVW_ANNOTATIONS", str(ann))
    monkeypatch.setenv("FVW_MODELS", str(tmp_path / "models"))
    return root


def _app(backend=None) -> AppTest:
    at = AppTest.from_file(str(PAGE), default_timeout=30)
    at.session_state["_fvw_backend"] = backend or DiskBackend()
    return at.run()


def _click(at: AppTest, x: int, y: int, positive: bool = True) -> AppTest:
    at.number_input(key="manual_x").set_value(x)
    at.number_input(key="manual_y").set_value(y)
    label = "Add positive click" if positive else "Add negative click"
    next(b for b in at.button if b.label == label).click()
    return at.run()


def test_page_lists_photos_and_a_click_autosaves_labelme_json(dataset):
    at = _app()
    assert not at.exception, at.exception
    assert [m.value for m in at.metric][:3] == ["3", "0", "3"]
    assert Path(at.session_state["label_photo"]).name == "p0.png"
    at = _click(at, 40, 30)
    assert not at.exception and not at.error
    saved = load_label_file(dataset / "p0.json")
    assert [s.label for s in saved.shapes] == ["screw"]
    from labelme._label_file import LabelFile as LabelmeFile

    assert LabelmeFile(str(dataset / "p0.json")).shapes[0]["label"] == "screw"
    # undo removes it from the file, redo brings it back
    next(b for b in at.button if "Undo" in b.label).click()
    at.run()
    assert load_label_file(dataset / "p0.json").shapes == []
    next(b for b in at.button if "Redo" in b.label).click()
    at.run()
    assert len(load_label_file(dataset / "p0.json").shapes) == 1


def test_class_and_attributes_are_saved_and_next_unlabelled_moves_on(dataset):
    at = _app()
    at = _click(at, 40, 30)
    at.sidebar.selectbox(key="attr-head-p0.png").select("pan").run()
    assert load_label_file(dataset / "p0.json").shapes[0].extra["attributes"] == {"head": "pan"}
    at.sidebar.radio(key="cls-p0.png").set_value("coin").run()
    assert load_label_file(dataset / "p0.json").shapes[0].label == "coin"
    next(b for b in at.button if b.label.startswith("Next unlabelled")).click()
    at.run()
    assert Path(at.session_state["label_photo"]).name == "p1.png"
    assert at.sidebar.radio(key="cls-p1.png").value == "coin"  # the class is kept for the next photo
    assert [m.value for m in at.metric][:2] == ["3", "1"]


def test_embedding_is_computed_once_and_the_next_photo_prefetched(dataset):
    backend = DiskBackend()
    at = _app(backend)
    at = _click(at, 40, 30)
    at = _click(at, 10, 10, positive=False)
    cache = at.session_state["label_cache"]
    for fut in list(cache._pending.values()):
        fut.result(timeout=10)
    assert backend.embedded.count(str(dataset / "p0.png")) == 1
    assert str(dataset / "p1.png") in backend.embedded  # prefetched in the background


def test_broken_json_is_shown_not_overwritten(dataset):
    (dataset / "p0.json").write_text("{ not json")
    at = _app()
    at.selectbox(key="label_photo").select(str(dataset / "p0.png")).run()
    assert any("invalid JSON" in e.value for e in at.error)
    assert [m.value for m in at.metric][3] == "1"
    at = _click(at, 40, 30)
    assert any("not overwritten" in e.value for e in at.error)
    assert (dataset / "p0.json").read_text() == "{ not json"


def test_unreadable_photo_is_reported(dataset):
    (dataset / "a_bad.jpg").write_bytes(b"\xff\xd8 truncated")
    at = _app()
    assert not at.exception
    assert Path(at.session_state["label_photo"]).name == "a_bad.jpg"
    assert any("Next unlabelled" in e.value for e in at.error)


def test_wrong_sam_checkpoint_is_reported_and_offline_used(dataset, tmp_path):
    wrong = tmp_path / "not_sam.pth"
    import torch

    torch.save({"fc.weight": torch.zeros(1)}, wrong)
    at = AppTest.from_file(str(PAGE), default_timeout=30).run()
    at.sidebar.radio[0].set_value("sam").run()
    at.sidebar.text_input(key="sam_ckpt").input(str(wrong)).run()
    assert not at.exception
    assert any("not a Segment Anything checkpoint" in e.value for e in at.error)
    at = _click(at, 40, 30)  # the offline backend still labels
    assert load_label_file(dataset / "p0.json").shapes


def test_two_browser_sessions_keep_each_others_work(dataset):
    a, b = _app(), _app()
    a = _click(a, 40, 30)
    b.sidebar.radio(key="cls-p0.png").set_value("coin").run()
    b = _click(b, 10, 10)
    a = _click(a, 60, 45)  # A saves again after B: B's coin must survive
    labels = sorted(s.label for s in load_label_file(dataset / "p0.json").shapes)
    assert labels.count("coin") == 1 and labels.count("screw") >= 1
    json.loads((dataset / "p0.json").read_text())


def test_import_a_folder_of_photos(dataset, tmp_path):
    src = tmp_path / "phone"
    src.mkdir()
    for i in range(2):
        _photo(src / f"IMG_{i}.png", i)
    at = _app()
    at.sidebar.text_input(key="import_src").input(str(src))
    at.sidebar.text_input(key="import_dst").input(str(tmp_path / "imported"))
    at.sidebar.button(key="import_btn").click().run()
    assert not at.exception and not at.error
    assert any("Imported 2 photos" in i.value for i in at.info)
    assert [m.value for m in at.metric][:2] == ["2", "0"]
    at.sidebar.text_input(key="import_src").input(str(tmp_path / "nowhere"))
    at.sidebar.button(key="import_btn").click().run()
    assert any("not found" in e.value for e in at.error)
