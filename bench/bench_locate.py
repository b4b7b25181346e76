"""Locate pipeline must-show figures (issue 4) on held-out studio photos, and its latency at 512 px.

Figures: ``python -m bench --only locate`` (or the command in the module card). Photos: 100 ``search`` photos
and 50 ``short`` photos from core.segment.data.HELDOUT_SEED streams (never used for training or model
selection), 512x384; the shipped segmenter runs at ``core.segment.predictor.DEFAULT_INFER_SIZE`` (512: the
photo is not resized) with ``DEFAULT_THRESHOLD`` on 2 CPU threads. RotationNet figures appear when
models/rotationnet/rotationnet.safetensors exists; the blob verifier (models/segmenter/verifier.safetensors)
drops clutter blobs when it exists; the nominal length is taken off the overall one by the head classifier
and the head-allowance table when both are shipped (core.locate.head); HeadEndNet (models/rotationnet/headend.safetensors)
turns a screw round when it sees the head at the other end, when it is shipped (core.pose.headend). The timing is one locate call
(segment + pose + measure) on a 512x384 photo, median of the repeats.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from bench.harness import in_turn, register_figures, register_timing


def _models() -> tuple[Any, Any, Any, Any, Any, Any, Any]:
    import torch

    from core.checkpoints import build_from_checkpoint
    from core.paths import models_dir
    from core.segment import Segmenter, load_segmenter
    from core.segment.predictor import DEFAULT_INFER_SIZE, DEFAULT_THRESHOLD

    torch.set_num_threads(2)
    seg = Segmenter(
        load_segmenter(models_dir() / "segmenter" / "segmenter.safetensors"),
        infer_size=DEFAULT_INFER_SIZE,
        threshold=DEFAULT_THRESHOLD,
    )
    rn_path = Path(models_dir()) / "rotationnet" / "rotationnet.safetensors"
    rn = None
    if rn_path.is_file():
        from core.pose.rotationnet import create_rotationnet

        rn = build_from_checkpoint(rn_path, create_rotationnet).eval()
    from core.locate.head import load_head_reader
    from core.measure.coin_edgenet import load_coin_edgenet
    from core.pose.headend import load_headend
    from core.segment.edgenet import load_edgenet
    from core.segment.verify import load_verifier

    return seg, rn, load_verifier(), load_head_reader(), load_edgenet(), load_coin_edgenet(), load_headend()


def _figures(n: int, n_short: int):
    def fn() -> dict[str, float | str]:
        from core.segment.evaluate import evaluate_heldout

        seg, rn, ver, heads, edge, coin_edge, heads_up = _models()
        out: dict[str, float | str] = {"photos": float(n), "short photos": float(n_short)}
        out.update(
            evaluate_heldout(
                seg,
                rn,
                n=n,
                n_short=n_short,
                verifier=ver,
                head_reader=heads,
                edgenet=edge,
                coin_edgenet=coin_edge,
                headend=heads_up,
            )
        )
        return out

    return fn


#: Photos the timing takes in turn, each once (``bench.harness.in_turn``; until session 10 one photo was timed again
#: and again).
TIMED_PHOTOS = 30


def _timing():
    from core.errors import NoScrewFoundError
    from core.locate.pipeline import Locator
    from core.segment.evaluate import heldout_photos

    seg, rn, ver, heads, edge, coin_edge, heads_up = _models()
    loc = Locator(
        seg, rn, verifier=ver, head_reader=heads, edgenet=edge, coin_edgenet=coin_edge, headend=heads_up
    )
    images = [p.image for p in heldout_photos(TIMED_PHOTOS, "search", width=512, height=384)]
    return in_turn(images, loc.locate, (NoScrewFoundError,))


register_figures(
    group="locate", name="held-out studio photos 512x384", fn=_figures(100, 50), quick_fn=_figures(10, 5)
)
register_timing(
    group="locate",
    name=f"segment+pose+measure 512px ({TIMED_PHOTOS} photos in turn)",
    setup=_timing,
    items=1,
    unit="photo",
    repeats=TIMED_PHOTOS,
)
