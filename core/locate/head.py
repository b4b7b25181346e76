"""Nominal length from the head type: a head classifier and the head-allowance table.

Catalog lengths are nominal: under the head, except for countersunk heads. The locator used to read the
head's height and countersunk-or-not off the canonical mask; at 512x384 the countersunk call is wrong for about
a third of the screws. With a head classifier, ``nominal = overall - E[allowance | head probabilities] *
diameter`` (:func:`core.measure.head_allowance.nominal_from_overall`, the table the search scores with).
Validation, 200 + 100 photos of seeds 500,011 / 500,012 at 512x384 (``python -m core.segment.evaluate --split
val --n 200 --n-short 100 --threads 1 --rotationnet models/rotationnet/rotationnet.safetensors``, with and
without ``--no-head-classifier``): median nominal length error 0.069 -> 0.050, every other figure unchanged;
on the next 191 screws of seed 500,011 (a throwaway script, same pipeline) 0.076 -> 0.042. This although the
classifier's top-1 is only ~0.6 on crops that small: the expectation weighs look-alike heads, whose
allowances are close.

:func:`load_head_reader` loads the shipped ``models/attributes/head.safetensors`` and
``models/measure/head_allowance.json`` (None when either is absent: the locator then reads the mask).
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

import numpy as np
import torch
from numpy.typing import NDArray

from core.device import inference_layout
from core.errors import CheckpointError
from core.pose.canonical import CanonicalScrew

__all__ = ["HeadReader", "load_head_reader", "add_head_reader_args", "head_reader_from_args"]


class HeadReader:
    """Head-type probabilities of a head-up screw (a head classifier, mirror-averaged) and the allowance
    table they are weighed with.

    Args:
        model: a head classifier (``core.attributes``), logits over the taxonomy's heads.
        allowance: (heads,) head allowance in shank diameters (:mod:`core.measure.head_allowance`).
        input_name: the crop the model reads (its checkpoint's ``arch["input"]``, default ``head``).
    """

    def __init__(self, model: torch.nn.Module, allowance: NDArray[np.floating], input_name: str = "head"):
        self.model = inference_layout(model)
        self.allowance = np.asarray(allowance, np.float64)
        self.input_name = input_name

    def probs(self, canonical: CanonicalScrew) -> NDArray[np.float64]:
        """(heads,) probabilities, averaged over the crop and its left-right mirror."""
        from core.attributes.data import crops_from_canonical
        from core.attributes.train import to_tensor

        x = crops_from_canonical(canonical).as_dict()[self.input_name]
        with torch.inference_mode():
            z = self.model(to_tensor(np.stack([x, x[:, ::-1]]))).float()
        p = torch.softmax(z, dim=1).mean(0).double().numpy()
        if p.shape != self.allowance.shape:
            raise CheckpointError(
                f"the head classifier has {p.size} classes, the allowance table {self.allowance.size} heads; "
                "use files of one taxonomy"
            )
        return np.asarray(p, np.float64)


def load_head_reader(
    head_path: str | Path | None = None,
    allowance_path: str | Path | None = None,
    *,
    models: str | Path | None = None,
    required: bool = False,
) -> HeadReader | None:
    """The head classifier and allowance table in ``head_path`` / ``allowance_path`` (default: the shipped
    files under ``models``). None when a default file is absent; a path given or ``required=True`` must
    exist (CheckpointError names it)."""
    from core.attributes.train import load_attribute_model
    from core.measure.head_allowance import default_path, load_head_allowance
    from core.paths import models_dir

    root = Path(models or models_dir())
    head = Path(head_path) if head_path is not None else root / "attributes" / "head.safetensors"
    table = Path(allowance_path) if allowance_path is not None else default_path(root)
    for path, given in ((head, head_path), (table, allowance_path)):
        if not path.is_file():
            if given is None and not required:
                return None
            raise CheckpointError(
                "missing file for the nominal length from the head type; train the head classifier "
                "(models/attributes/README.md) and fit the table with `python -m core.measure.head_allowance`",
                path=path,
            )
    model, arch = load_attribute_model(head)
    allowance = load_head_allowance(table)
    if allowance is None:  # pragma: no cover - checked above
        raise CheckpointError("no head-allowance table", path=table)
    info: dict[str, Any] = arch or {}
    if int(info.get("num_classes", allowance.size)) != allowance.size:
        raise CheckpointError(
            f"{head} classifies {info.get('num_classes')} heads, {table} has {allowance.size}; "
            "use a head classifier and an allowance table of one taxonomy",
            path=head,
        )
    return HeadReader(model, allowance, str(info.get("input") or "head"))


def add_head_reader_args(parser: argparse.ArgumentParser) -> None:
    """``--head-classifier FILE`` / ``--no-head-classifier`` for the commands that measure screws."""
    parser.add_argument(
        "--head-classifier",
        default=None,
        help="head classifier for the nominal length (default: the shipped one, with models/measure/head_allowance.json)",
    )
    parser.add_argument(
        "--no-head-classifier", action="store_true", help="read the head's height off the mask instead"
    )


def head_reader_from_args(args: argparse.Namespace) -> HeadReader | None:
    """The head reader :func:`add_head_reader_args`' flags ask for (None with ``--no-head-classifier``)."""
    return None if args.no_head_classifier else load_head_reader(args.head_classifier)
