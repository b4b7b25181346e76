"""The search engine honours the Models page's choice of segmenter (models/selected.json)."""

from __future__ import annotations

import pytest

from core.errors import CheckpointError


def test_default_engine_uses_the_segmenter_chosen_on_the_models_page(tmp_path):
    torch = pytest.importorskip("torch")
    from core.checkpoints import save_checkpoint
    from core.datasets import select_model
    from core.search.engine import default_engine
    from core.segment import create_segmenter
    from core.segment.model import arch_dict

    with pytest.raises(CheckpointError, match="no segmenter"):
        default_engine(tmp_path)  # nothing shipped, nothing chosen
    torch.manual_seed(0)
    model = create_segmenter()
    mine = save_checkpoint(tmp_path / "mine" / "my_segmenter.safetensors", model, arch=arch_dict(model.arch))
    select_model(tmp_path, mine)
    engine = default_engine(tmp_path)  # no models/segmenter/segmenter.safetensors: the chosen one is used
    assert engine is not None
    # The search runs each screw a second time, zoomed over the first pass (the chosen setting).
    from core.segment.predictor import SEARCH_REFINE_ZOOM

    assert engine.locator.segmenter.refine_zoom == SEARCH_REFINE_ZOOM > 1.0
    # No head-allowance table in that folder: the nominal length is scored.
    assert engine.scoring.head_allowance is None
    import numpy as np

    from core.catalog.taxonomy import HEADS
    from core.measure.head_allowance import save_head_allowance

    save_head_allowance(
        tmp_path / "measure" / "head_allowance.json", np.full(len(HEADS), 0.5), np.zeros(len(HEADS), int), "t"
    )
    assert default_engine(tmp_path).scoring.head_allowance == (0.5,) * len(HEADS)
    (tmp_path / "measure" / "head_allowance.json").write_text("[]")
    with pytest.raises(CheckpointError, match="head-allowance"):
        default_engine(tmp_path)


def test_default_engine_loads_the_blob_verifier_only_when_shipped(tmp_path):
    torch = pytest.importorskip("torch")
    from core.checkpoints import save_checkpoint
    from core.search.engine import default_engine
    from core.segment import create_segmenter
    from core.segment.model import arch_dict
    from core.segment.verify import ScrewVerifier, create_verifier
    from core.segment.verify import arch_dict as verifier_arch

    torch.manual_seed(0)
    seg = create_segmenter()
    save_checkpoint(tmp_path / "segmenter" / "segmenter.safetensors", seg, arch=arch_dict(seg.arch))
    assert default_engine(tmp_path).locator.verifier is None  # no verifier file: every blob is kept
    ver = create_verifier(channels=4)
    save_checkpoint(tmp_path / "segmenter" / "verifier.safetensors", ver, arch=verifier_arch(ver.arch))
    assert isinstance(default_engine(tmp_path).locator.verifier, ScrewVerifier)


def test_default_engine_loads_edgenet_only_when_shipped(tmp_path):
    torch = pytest.importorskip("torch")
    from core.checkpoints import save_checkpoint
    from core.search.engine import default_engine
    from core.segment import create_segmenter
    from core.segment.edgenet import EdgeNet, create_edgenet
    from core.segment.edgenet import arch_dict as edgenet_arch
    from core.segment.model import arch_dict

    torch.manual_seed(0)
    seg = create_segmenter()
    save_checkpoint(tmp_path / "segmenter" / "segmenter.safetensors", seg, arch=arch_dict(seg.arch))
    assert default_engine(tmp_path).locator.edgenet is None  # no file: GrabCut's outlines stay
    edge = create_edgenet(width=4)
    save_checkpoint(tmp_path / "segmenter" / "edgenet.safetensors", edge, arch=edgenet_arch(edge.arch))
    assert isinstance(default_engine(tmp_path).locator.edgenet, EdgeNet)


def test_default_engine_loads_the_coin_edgenet_only_when_shipped(tmp_path):
    torch = pytest.importorskip("torch")
    from core.checkpoints import save_checkpoint
    from core.measure.coin_edgenet import CoinEdgeNet, create_coin_edgenet
    from core.measure.coin_edgenet import arch_dict as coin_arch
    from core.search.engine import default_engine
    from core.segment import create_segmenter
    from core.segment.model import arch_dict

    torch.manual_seed(0)
    seg = create_segmenter()
    save_checkpoint(tmp_path / "segmenter" / "segmenter.safetensors", seg, arch=arch_dict(seg.arch))
    assert default_engine(tmp_path).locator.coin_edgenet is None  # no file: the strongest colour step
    net = create_coin_edgenet(hidden=8)
    save_checkpoint(tmp_path / "measure" / "coin_edgenet.safetensors", net, arch=coin_arch(net.arch))
    assert isinstance(default_engine(tmp_path).locator.coin_edgenet, CoinEdgeNet)
