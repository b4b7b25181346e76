"""Command line of the domain-adaptation runs.

``python -m core.adapt attributes --model models/attributes/head.safetensors --data annotations/my-photos
--out runs/adapt-head [--epochs 5 --freeze-stages 2 --test-share 0.3 --seed 0]``

Prints the before/after table (also written to ``<out>/report.md`` and ``report.json``) and the adapted
checkpoint's path. To use the adapted model, copy it into a models folder
(``cp runs/adapt-head/head.safetensors my-models/attributes/``) and search with ``--models my-models``.
Exit code 2 with a one-line ``error: ...`` for a bad input (no labelled screws, unknown values, too few
photos, a missing model file).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from core.errors import FvwError

__all__ = ["build_parser", "main"]


def build_parser() -> argparse.ArgumentParser:
    """The parser of ``python -m core.adapt``."""
    p = argparse.ArgumentParser(
        prog="python -m core.adapt",
        description="Fine-tune a shipped model on a labelme folder and compare it before/after on held-out photos.",
    )
    sub = p.add_subparsers(dest="what", required=True)
    a = sub.add_parser("attributes", help="adapt an attribute classifier (head, finish, tip, thread)")
    a.add_argument("--model", required=True, help="checkpoint, e.g. models/attributes/head.safetensors")
    a.add_argument("--data", required=True, help="labelme folder: photos + JSON with labelled screws")
    a.add_argument("--out", required=True, help="run folder for the adapted checkpoint and the report")
    a.add_argument("--epochs", type=int, default=5)
    a.add_argument("--freeze-stages", type=int, default=0, help="backbone stages kept frozen (stem first)")
    a.add_argument(
        "--test-share", type=float, default=0.3, help="photos held out when there is no split.json"
    )
    a.add_argument("--seed", type=int, default=0)
    a.add_argument("--lr", type=float, default=1e-3)
    a.add_argument("--batch-size", type=int, default=32)
    a.add_argument(
        "--no-augment", action="store_true", help="train without the class-preserving augmentation"
    )
    a.add_argument("--device", default="auto", help="auto | cpu | cuda")
    a.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's choice)")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command; returns the exit code (0 done, 2 bad input)."""
    args = build_parser().parse_args(argv)
    try:
        import torch

        from core.adapt.attributes import AdaptConfig, adapt_attribute, report_markdown

        if args.threads:
            torch.set_num_threads(args.threads)
        cfg = AdaptConfig(
            model=args.model,
            data=args.data,
            out=args.out,
            epochs=args.epochs,
            freeze_stages=args.freeze_stages,
            test_share=args.test_share,
            seed=args.seed,
            lr=args.lr,
            batch_size=args.batch_size,
            augment=not args.no_augment,
            device=args.device,
        )
        result = adapt_attribute(cfg)
    except FvwError as e:
        print(f"error: {' '.join(str(e).split())}", file=sys.stderr)
        return 2
    print(report_markdown(result))
    print(f"wrote {result.checkpoint}, {result.report_md}, {result.report_json}, {result.split_json}")
    return 0
