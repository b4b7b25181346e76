"""``python -m core.attributes crops --n 3000 --seed 100 --out runs/attributes/crops-train.npz``.

Renders studio photos and writes the four attribute inputs per screw (see :mod:`core.attributes.data`).
Train with ``python -m core.train attributes --set attribute=head --set train=... --set val=...``.
"""

from __future__ import annotations

import argparse
import sys

from core.errors import FvwError


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m core.attributes", description=__doc__)
    sub = p.add_subparsers(dest="cmd", required=True)
    c = sub.add_parser("crops", help="render studio photos and save attribute crops (.npz)")
    c.add_argument("--n", type=int, default=3000, help="photos to render (10 %% are coin-only and skipped)")
    c.add_argument(
        "--seed", type=int, default=100, help="seed stream (use different seeds for train/val/test)"
    )
    c.add_argument("--width", type=int, default=960)
    c.add_argument("--height", type=int, default=720)
    c.add_argument("--out", required=True)
    args = p.parse_args(argv)
    try:
        from core.attributes.data import build_crop_arrays, save_crop_arrays

        arrays = build_crop_arrays(args.n, args.seed, args.width, args.height)
        path = save_crop_arrays(args.out, arrays)
        print(f"wrote {len(arrays['y_head'])} screws to {path}")
    except FvwError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
