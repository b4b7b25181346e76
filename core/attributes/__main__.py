"""``python -m core.attributes crops|merge|evaluate|ablation``.

``crops --n 3000 --seed 100 --out runs/attributes/crops-train.npz`` renders studio photos and writes the
four attribute inputs per screw plus the whole-photo and box views (see :mod:`core.attributes.data`).
Train with ``python -m core.train attributes --set attribute=head --set train=... --set val=...``;
``crops ... --segmenter FILE`` cuts them from a segmenter's masks instead, as the search engine does;
``merge a.npz b.npz --out c.npz`` stacks crop files (e.g. exact-mask and predicted-mask crops) for training.
``evaluate --model models/attributes/thread.safetensors`` scores a checkpoint on the held-out crops.
``ablation --out docs/attributes/ablation.md`` trains one classifier per attribute on the whole photo, the
box and the part crop, and writes the held-out accuracy table (see :mod:`core.attributes.ablation`).
"""

from __future__ import annotations

import argparse
import shlex
import sys

from core.errors import FvwError


def _parser() -> argparse.ArgumentParser:
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
    c.add_argument(
        "--segmenter",
        default=None,
        help="cut crops from this segmenter's masks, as the search engine does (default: exact masks)",
    )
    c.add_argument("--rotationnet", default=None, help="with --segmenter: RotationNet for short screws")
    c.add_argument(
        "--grabcut-reach",
        type=float,
        default=None,
        help="with --segmenter: GrabCut's reach in blob widths (default: the locator's; 0 = the search's second "
        "cut, core.search.engine.SEARCH_VIEW_REACHES)",
    )
    c.add_argument(
        "--edgenet",
        default=None,
        help="with --segmenter: redraw the main outline with this EdgeNet, as the search engine does "
        "(models/segmenter/edgenet.safetensors)",
    )
    c.add_argument(
        "--view-reaches",
        type=float,
        nargs="*",
        default=[],
        help="with --segmenter: also keep the crops of these extra GrabCut cuts of each screw, from the same "
        "pass (the search reads reach 0 beside the main cut: core.search.engine.SEARCH_VIEW_REACHES)",
    )
    c.add_argument(
        "--mode",
        choices=("train", "search"),
        default="train",
        help="studio photo mode: train (one screw, mostly no coin) or search (screw + coin: the finish_wb "
        "input is white-balanced by the coin)",
    )
    m = sub.add_parser("merge", help="stack crop files into one training file")
    m.add_argument("inputs", nargs="+", help="crop files (.npz) written by `crops`")
    m.add_argument("--out", required=True)
    e = sub.add_parser("evaluate", help="held-out accuracy of a saved classifier on a crop file")
    e.add_argument("--model", required=True, help="e.g. models/attributes/thread.safetensors")
    e.add_argument("--crops", default="runs/attributes/crops-test.npz", help="held-out crops (seed 300)")
    a = sub.add_parser("ablation", help="whole photo vs box vs part crop, one table per attribute")
    a.add_argument("--out", required=True, help="markdown report to write")
    a.add_argument(
        "--train", default="runs/attributes/crops-train.npz", help="rendered (seed 100) if missing"
    )
    a.add_argument("--test", default="runs/attributes/crops-test.npz", help="rendered (seed 300) if missing")
    a.add_argument("--n-train", type=int, default=1500)
    a.add_argument("--n-test", type=int, default=400)
    a.add_argument("--epochs", type=int, default=5)
    a.add_argument("--backbone", default="mobilenetv3_small_100")
    a.add_argument("--attributes", default="head,finish,tip,thread", help="comma-separated")
    a.add_argument("--arms", default="photo,box,part", help="comma-separated subset of photo,box,part")
    a.add_argument("--threads", type=int, default=1, help="torch CPU threads")
    return p


def _ablation(args: argparse.Namespace, argv: list[str]) -> None:
    from core.attributes.ablation import (
        AblationConfig,
        ablation_markdown,
        ensure_crops,
        run_ablation,
        write_report,
    )

    cfg = AblationConfig(
        train=args.train,
        test=args.test,
        n_train=args.n_train,
        n_test=args.n_test,
        epochs=args.epochs,
        backbone=args.backbone,
        attributes=tuple(s for s in args.attributes.split(",") if s),
        arms=tuple(s for s in args.arms.split(",") if s),
        threads=args.threads,
    )
    ensure_crops(cfg.train, cfg.n_train, seed=100)
    ensure_crops(cfg.test, cfg.n_test, seed=300)
    command = "python -m core.attributes " + " ".join(shlex.quote(a) for a in argv)
    total = len(cfg.attributes) * len(cfg.arms)

    def partial(rows: list) -> None:  # a long run leaves a readable report after every model
        write_report(args.out, ablation_markdown(rows, cfg, command, partial=len(rows) < total))

    run_ablation(cfg, log=lambda m: print(m, flush=True), on_row=partial)
    print(f"wrote {args.out}")


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    args = _parser().parse_args(argv)
    try:
        if args.cmd == "ablation":
            _ablation(args, argv)
            return 0
        if args.cmd == "evaluate":
            from core.attributes.evaluate import evaluate_model

            print(evaluate_model(args.model, args.crops).report())
            return 0
        from core.attributes.data import build_crop_arrays, merge_crop_arrays, save_crop_arrays

        if args.cmd == "merge":
            merged = merge_crop_arrays(args.inputs)
            path = save_crop_arrays(args.out, merged)
            print(f"wrote {len(merged['y_head'])} screws to {path}")
            return 0

        arrays = build_crop_arrays(
            args.n,
            args.seed,
            args.width,
            args.height,
            segmenter=args.segmenter,
            rotationnet=args.rotationnet,
            mode=args.mode,
            grabcut_reach=args.grabcut_reach,
            edgenet=args.edgenet,
            view_reaches=tuple(args.view_reaches),
        )
        path = save_crop_arrays(args.out, arrays)
        print(f"wrote {len(arrays['y_head'])} screws to {path}")
    except FvwError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
