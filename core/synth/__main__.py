"""CLI: ``python -m core.synth --n 2000 --seed 0 --out annotations/synthetic-v1 [--mode train]``."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from core.errors import FvwError
from core.synth.dataset import MODES, contact_sheet, generate_dataset, matching_indices, render_index
from core.synth.render import StudioConfig
from core.synth.scene import COINS


def main(argv: list[str] | None = None) -> int:
    """Entry point; returns the process exit code."""
    p = argparse.ArgumentParser(prog="python -m core.synth", description="Render synthetic screw photos.")
    p.add_argument("--n", type=int, default=100, help="number of photos")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", default=None, help="output folder (photos + labelme JSON)")
    p.add_argument(
        "--mode", choices=MODES, default="search", help="search: screw+coin; train: 10%% coin / 90%% screw"
    )
    p.add_argument("--width", type=int, default=1280)
    p.add_argument("--height", type=int, default=960)
    p.add_argument("--coin", default="random", help=f"random or one of {', '.join(COINS)}")
    p.add_argument("--workers", type=int, default=1)
    p.add_argument("--catalog", default=None, help="SQLite catalog (default: generated default catalog)")
    p.add_argument("--contact-sheet", default=None, help="also write a grid of the first 24 photos (PNG)")
    p.add_argument("--finish", default=None, help="only photos of screws with this finish (hard cases)")
    p.add_argument("--background", default=None, help="only photos on this background kind")
    args = p.parse_args(argv)
    if args.out is None and args.contact_sheet is None:
        p.error("give --out and/or --contact-sheet")
    try:
        cfg = StudioConfig(width=args.width, height=args.height, coin=args.coin)
        indices = None
        if args.finish or args.background:
            from core.catalog.catalog import load_arrays

            indices = matching_indices(
                load_arrays(args.catalog), args.mode, args.seed, args.n, args.finish, args.background
            )
        if args.out:
            t0 = time.perf_counter()
            generate_dataset(
                args.out,
                args.n,
                args.seed,
                args.mode,
                cfg,
                args.workers,
                args.catalog,
                progress=True,
                indices=indices,
            )
            dt = time.perf_counter() - t0
            print(f"wrote {args.n} photos to {args.out} in {dt:.1f} s ({args.n / dt:.1f} photos/s)")
        if args.contact_sheet:
            import cv2

            from core.catalog.catalog import load_arrays

            arrays = load_arrays(args.catalog)
            shown = (range(args.n) if indices is None else indices)[:24]
            photos = [render_index(arrays, args.mode, args.seed, i, cfg) for i in shown]
            sheet = Path(args.contact_sheet)
            cv2.imwrite(str(sheet), cv2.cvtColor(contact_sheet(photos), cv2.COLOR_RGB2BGR))
            lines = [
                f"# Contact sheet: {sheet.name}",
                "",
                f"{len(photos)} studio photos ({args.width}x{args.height}, mode {args.mode}, seed {args.seed}),",
                "screw outlined in red and coin in blue from the written ground-truth polygons. Reproduce with",
                "",
                f"    python -m core.synth --n {len(photos)} --seed {args.seed} --mode {args.mode} --contact-sheet {sheet}"
                + (f" --finish {args.finish}" if args.finish else "")
                + (f" --background {args.background}" if args.background else ""),
                "",
                "| # | SKU | name | background | coin | px/mm |",
                "|---|---|---|---|---|---|",
            ]
            for k, ph in enumerate(photos, start=1):
                m = ph.meta
                name = ph.sku.name if ph.sku is not None else "(coin only)"
                coin = m["coin"]["type"] if "coin" in m else "-"
                lines.append(
                    f"| {k} | {m['sku_id'] or '-'} | {name} | {m['background']} | {coin} | {m['px_per_mm']:.2f} |"
                )
            sheet.with_suffix(".md").write_text("\n".join(lines) + "\n", encoding="utf-8")
            print(f"wrote {sheet} and {sheet.with_suffix('.md')}")
    except FvwError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
