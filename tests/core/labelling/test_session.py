from __future__ import annotations

import json
import multiprocessing as mp
from pathlib import Path

import cv2
import numpy as np
import pytest

from core.annotation import load_label_file, shapes_to_mask
from core.errors import AnnotationError, CheckpointError, ConfigError, InputError
from core.interactive import Prompt, SuperpixelBackend, iou
from core.labelling.session import LabelSession, PromptHistory, SessionDefaults, make_backend


def ellipse_photo(w: int = 160, h: int = 120, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """(RGB photo, true mask): a bright ellipse on a noisy striped background."""
    rng = np.random.default_rng(seed)
    img = rng.integers(40, 90, (h, w, 3), dtype=np.uint8)
    img[:, ::7] //= 2
    gt = np.zeros((h, w), np.uint8)
    cv2.ellipse(gt, (w // 2, h // 2), (w // 5, h // 7), 20, 0, 360, 1, -1)
    img[gt.astype(bool)] = (230, 210, 120)
    return img, gt.astype(bool)


@pytest.fixture
def photo(tmp_path: Path) -> tuple[Path, np.ndarray, np.ndarray]:
    img, gt = ellipse_photo()
    path = tmp_path / "p0.png"
    cv2.imwrite(str(path), cv2.cvtColor(img, cv2.COLOR_RGB2BGR))
    return path, img, gt


BACKEND = SuperpixelBackend()


def _session(path: Path, img: np.ndarray, **kw) -> LabelSession:
    s = LabelSession(path.parent, path, SessionDefaults(**kw))
    s.attach(BACKEND, BACKEND.embed(img, image_id=path.name))
    return s


def test_prompt_history_undo_redo_and_branching():
    h = PromptHistory()
    assert not h.can_undo and h.current.is_empty
    h.push(h.current.add((1, 2), 1))
    h.push(h.current.add((3, 4), 0))
    assert h.undo() and h.current.points == ((1.0, 2.0),)
    assert h.redo() and len(h.current.points) == 2
    assert not h.redo()
    h.undo()
    h.push(h.current.with_box((0, 0, 5, 5)))  # a new edit after undo drops the redo branch
    assert not h.can_redo and h.current.box == (0, 0, 5, 5) and len(h.current.points) == 1


def test_one_click_autosaves_a_labelme_polygon_close_to_the_object(photo):
    path, img, gt = photo
    s = _session(path, img)
    s.click((80, 60), positive=True)
    assert s.json_path.is_file() and s.saves == 1
    lf = load_label_file(s.json_path)
    assert [sh.label for sh in lf.shapes] == ["screw"]
    assert (lf.image_height, lf.image_width, lf.image_path) == (120, 160, "p0.png")
    assert iou(shapes_to_mask(lf.shapes, 120, 160), gt) > 0.85
    # labelme's own reader accepts the file
    from labelme._label_file import LabelFile as LabelmeFile

    data = LabelmeFile(str(s.json_path))
    assert data.shapes[0]["label"] == "screw" and data.shapes[0]["shape_type"] == "polygon"


def test_undo_redo_rewrite_the_file(photo):
    path, img, _ = photo
    s = _session(path, img)
    s.click((80, 60))
    assert len(load_label_file(s.json_path).shapes) == 1
    assert s.undo()
    assert load_label_file(s.json_path).shapes == []
    assert s.redo()
    assert len(load_label_file(s.json_path).shapes) == 1
    assert not s.redo()


def test_negative_click_and_box_change_the_mask(photo):
    path, img, gt = photo
    s = _session(path, img)
    s.set_box((40, 30, 125, 92))
    assert s.mask is not None and iou(s.mask, gt) > 0.8
    s.click((5, 5), positive=False)
    assert s.prompt.labels == (0,) and s.prompt.box is not None


def test_label_and_attributes_are_saved_and_kept_for_the_next_photo(photo):
    path, img, _ = photo
    s = _session(path, img, label="coin")
    s.click((80, 60))
    assert load_label_file(s.json_path).shapes[0].label == "coin"
    s.set_label("screw")
    s.set_attribute("head", "pan")
    shapes = load_label_file(s.json_path).shapes
    assert len(shapes) == 1 and shapes[0].label == "screw"
    assert shapes[0].extra["attributes"]["head"] == "pan"
    s.set_attribute("head", "hex")  # same geometry, new attribute: must not be lost in the merge
    assert load_label_file(s.json_path).shapes[0].extra["attributes"]["head"] == "hex"
    assert s.defaults.label == "screw" and ("head", "hex") in s.defaults.attributes
    with pytest.raises(InputError, match="valid values"):
        s.set_attribute("head", "banana")
    with pytest.raises(InputError, match="valid: screw, coin"):
        s.set_label("bolt")
    # labelme still reads the file with the extra key
    from labelme._label_file import LabelFile as LabelmeFile

    assert LabelmeFile(str(s.json_path)).shapes[0]["other_data"]["attributes"]["head"] == "hex"


def test_tolerance_and_policy_change_the_saved_polygon(photo):
    path, img, _ = photo
    s = _session(path, img)
    s.click((80, 60))
    s.set_polygon(tolerance=0.0)
    fine = len(load_label_file(s.json_path).shapes[0].points)
    s.set_polygon(tolerance=4.0)
    coarse = len(load_label_file(s.json_path).shapes[0].points)
    assert coarse < fine
    assert len(load_label_file(s.json_path).shapes) == 1
    with pytest.raises(InputError):
        s.set_polygon(policy="triangles")


def test_new_object_keeps_the_first_and_delete_removes_it(photo):
    path, img, _ = photo
    s = _session(path, img)
    s.click((80, 60))
    s.new_object()
    s.set_label("coin")
    s.set_box((2, 2, 30, 30))
    labels = sorted(sh.label for sh in load_label_file(s.json_path).shapes)
    assert labels == ["coin", "screw"]
    s.new_object()
    s.delete_shape([sh.label for sh in s.shapes].index("screw"))
    assert [sh.label for sh in load_label_file(s.json_path).shapes] == ["coin"]
    with pytest.raises(InputError):
        s.delete_shape(5)


def test_click_outside_the_photo_and_without_embedding_are_refused(photo):
    path, img, _ = photo
    s = LabelSession(path.parent, path)
    with pytest.raises(InputError, match="attach"):
        s.click((1, 1))
    s.attach(BACKEND, BACKEND.embed(img))
    with pytest.raises(InputError, match="outside"):
        s.click((500, 1))


def test_broken_json_is_shown_and_never_overwritten(photo):
    path, img, _ = photo
    bad = path.with_suffix(".json")
    bad.write_text('{"shapes": [ oops')
    s = _session(path, img)
    assert s.read_only and "invalid JSON" in s.error
    with pytest.raises(AnnotationError, match="not overwritten"):
        s.click((80, 60))
    assert bad.read_text() == '{"shapes": [ oops'


def test_two_sessions_on_one_photo_keep_each_others_work(photo):
    path, img, _ = photo
    a = _session(path, img, label="screw")
    b = _session(path, img, label="coin")  # both opened before either saved
    a.click((80, 60))
    b.set_box((2, 2, 30, 30))
    a.new_object()
    b.new_object()
    a.click((150, 110), positive=True)  # another save by A after B's
    labels = [sh.label for sh in load_label_file(path.with_suffix(".json")).shapes]
    assert labels.count("coin") == 1 and labels.count("screw") >= 1
    assert "coin" in [sh.label for sh in a.shapes]  # A now sees B's coin


class BoxBackend:
    """A deterministic fake: the mask is the prompt's box."""

    name = "box"

    def embed(self, image, image_id=""):
        return BACKEND.embed(image, image_id)

    def predict(self, emb, prompt):
        m = np.zeros((emb.height, emb.width), bool)
        if prompt.box is not None:
            x0, y0, x1, y1 = (int(v) for v in prompt.box)
            m[y0:y1, x0:x1] = True
        return m


def _label_in_process(args: tuple[str, int, str]) -> None:
    path, row, label = args
    p = Path(path)
    img = cv2.cvtColor(cv2.imread(str(p)), cv2.COLOR_BGR2RGB)
    s = LabelSession(p.parent, p, SessionDefaults(label=label))
    s.attach(BoxBackend(), BACKEND.embed(img))
    for k in range(3):  # several saves each, interleaved with the other process
        y0 = 5 + 50 * row
        s.set_box((5 + 50 * k, y0, 40 + 50 * k, y0 + 30))
        s.click((10 + 50 * k, y0 + 10))  # a second save of the same object
        s.new_object()


def test_two_processes_writing_the_same_file_lose_nothing(photo):
    path, _, _ = photo
    ctx = mp.get_context("fork")
    with ctx.Pool(2) as pool:
        pool.map(_label_in_process, [(str(path), 0, "screw"), (str(path), 1, "coin")])
    shapes = load_label_file(path.with_suffix(".json")).shapes
    assert sorted(sh.label for sh in shapes) == ["coin"] * 3 + ["screw"] * 3
    json.loads(path.with_suffix(".json").read_text())  # valid JSON, not interleaved


def test_backend_factory_errors(tmp_path):
    assert make_backend("offline").name == "offline"
    with pytest.raises(ConfigError, match="valid: offline, sam, segmenter"):
        make_backend("magic")
    with pytest.raises(ConfigError, match="checkpoint"):
        make_backend("sam")
    with pytest.raises(CheckpointError, match="not found"):
        make_backend("sam", checkpoint=tmp_path / "nope.pth")
    import torch

    wrong = tmp_path / "resnet.pth"
    torch.save({"conv1.weight": torch.zeros(2, 3, 1, 1)}, wrong)
    with pytest.raises(CheckpointError, match="not a Segment Anything checkpoint"):
        make_backend("sam", checkpoint=wrong)
    garbage = tmp_path / "garbage.pth"
    garbage.write_bytes(b"not a checkpoint")
    with pytest.raises(CheckpointError, match="could not read"):
        make_backend("sam", checkpoint=garbage)


def test_prompt_is_passed_unchanged_to_the_backend(photo):
    path, img, _ = photo
    seen: list[Prompt] = []

    class Spy:
        name = "spy"

        def embed(self, image, image_id=""):
            return BACKEND.embed(image, image_id)

        def predict(self, emb, prompt):
            seen.append(prompt)
            return np.zeros((emb.height, emb.width), bool)

    s = LabelSession(path.parent, path)
    s.attach(Spy(), BACKEND.embed(img))
    s.click((10, 20), positive=False)
    assert seen[-1].points == ((10.0, 20.0),) and seen[-1].labels == (0,)
    assert not path.with_suffix(".json").exists()  # an empty mask writes nothing


def test_segmenter_proposal_backend_from_a_real_checkpoint(tmp_path, photo):
    torch = pytest.importorskip("torch")
    segment = pytest.importorskip("core.segment")
    from core.checkpoints import save_checkpoint
    from core.labelling.session import segmenter_checkpoint
    from core.segment.model import arch_dict

    torch.manual_seed(0)
    model = segment.create_segmenter()
    ckpt = save_checkpoint(tmp_path / "models" / "segmenter.safetensors", model, arch=arch_dict(model.arch))
    assert segmenter_checkpoint(tmp_path / "models") == ckpt
    backend = make_backend("segmenter", checkpoint=ckpt, device="cpu")
    path, img, _ = photo
    emb = backend.embed(img)
    mask = backend.predict(emb, Prompt().add((80, 60), 1))
    assert mask.shape == img.shape[:2] and mask[60, 80]
    sam_like = tmp_path / "sam.pth"
    torch.save({"image_encoder.pos_embed": torch.zeros(1, 4, 4, 8)}, sam_like)
    with pytest.raises(CheckpointError):
        make_backend("segmenter", checkpoint=sam_like)
    with pytest.raises(CheckpointError, match="not found"):
        make_backend("segmenter", checkpoint=tmp_path / "missing.safetensors")


def test_shipped_segmenter_as_proposal_selects_a_studio_screw_with_one_click():
    """The Label page's "segmenter" backend with the weights in models/, not a random-init stand-in."""
    pytest.importorskip("torch")
    from core.catalog import load_arrays
    from core.interactive import next_click
    from core.paths import models_dir
    from core.synth.dataset import render_index
    from core.synth.render import StudioConfig

    ckpt = models_dir() / "segmenter" / "segmenter.safetensors"
    if not ckpt.is_file():
        pytest.skip("no shipped segmenter in models/")
    photo = render_index(load_arrays(), "search", 7, 0, StudioConfig())
    h, w = photo.image.shape[:2]
    gt = np.zeros((h, w), np.uint8)
    cv2.fillPoly(gt, [np.round(photo.screw_polygon).astype(np.int32)], 1)
    click = next_click(np.zeros((h, w), bool), gt.astype(bool))
    assert click is not None
    backend = make_backend("segmenter", checkpoint=ckpt, device="cpu")
    mask = backend.predict(backend.embed(photo.image), Prompt().add(*click))
    assert iou(mask, gt.astype(bool)) >= 0.6
