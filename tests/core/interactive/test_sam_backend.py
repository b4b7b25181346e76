"""The SAM backend's loading and prompting code, on a tiny random-init SAM (no weights are downloaded)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from core.errors import CheckpointError
from core.interactive import Prompt
from core.interactive.sam import SAM_SPECS, SamBackend, detect_sam_type


@pytest.fixture(scope="module")
def tiny_sam_path(tmp_path_factory):
    from segment_anything.build_sam import _build_sam

    spec = SAM_SPECS["vit_test"]
    torch.manual_seed(0)
    sam = _build_sam(spec.embed_dim, spec.depth, spec.num_heads, list(spec.global_attn_indexes))
    path = tmp_path_factory.mktemp("sam") / "sam_vit_test.pth"
    torch.save({f"module.{k}": v for k, v in sam.state_dict().items()}, path)  # DDP prefix is stripped
    return path


def test_loads_detects_type_and_predicts(tiny_sam_path):
    backend = SamBackend(tiny_sam_path, device="cpu")
    assert backend.model_type == "vit_test"
    img = np.random.default_rng(0).integers(0, 255, (48, 64, 3), dtype=np.uint8)
    emb = backend.embed(img)
    one = backend.predict(emb, Prompt(((30.0, 20.0),), (1,)))
    boxed = backend.predict(emb, Prompt(((30.0, 20.0), (5.0, 5.0)), (1, 0), (10.0, 10.0, 50.0, 40.0)))
    assert one.shape == boxed.shape == (48, 64) and one.dtype == bool
    assert not backend.predict(emb, Prompt()).any()


def test_wrong_model_type_is_named(tiny_sam_path):
    with pytest.raises(CheckpointError, match="is a vit_test model, not vit_b"):
        SamBackend(tiny_sam_path, model_type="vit_b", device="cpu")


def test_missing_and_foreign_checkpoints(tmp_path):
    with pytest.raises(CheckpointError, match="not found"):
        SamBackend(tmp_path / "nope.pth")
    other = tmp_path / "resnet.pth"
    torch.save(torch.nn.Linear(2, 2).state_dict(), other)
    with pytest.raises(CheckpointError, match="not a Segment Anything checkpoint"):
        SamBackend(other)
    garbage = tmp_path / "garbage.pth"
    garbage.write_bytes(b"definitely not a zip")
    with pytest.raises(CheckpointError, match="could not read"):
        SamBackend(garbage)


def test_pickled_code_is_refused(tmp_path):
    path = tmp_path / "evil.pth"
    torch.save({"obj": torch.nn.Linear(2, 2)}, path)  # a whole module object, not a state_dict
    with pytest.raises(CheckpointError, match="could not read"):
        SamBackend(path)


def test_detect_type_of_official_shapes():
    state = {"image_encoder.pos_embed": torch.zeros(1, 64, 64, 768)}
    state.update({f"image_encoder.blocks.{i}.norm1.weight": torch.zeros(1) for i in range(12)})
    assert detect_sam_type(state) == "vit_b"
