"""``python -m core.locate photo.jpg --out result/ [--coin euro_1]``: overlay.png, crops, result.json.

Exit codes: 0 done, 2 a user error (unreadable photo, no screw found, missing checkpoint) with a message.
"""

from __future__ import annotations

import argparse
import sys

from core.errors import FvwError, ImageReadError

__all__ = ["main"]


def main(argv: list[str] | None = None) -> int:
    from core.locate.head import add_head_reader_args, head_reader_from_args
    from core.measure import COIN_DIAMETERS_MM, DEFAULT_COIN
    from core.paths import models_dir

    p = argparse.ArgumentParser(
        prog="python -m core.locate", description="Locate, orient and measure screws."
    )
    p.add_argument("photo")
    p.add_argument("--out", required=True, help="output folder")
    p.add_argument("--coin", default=DEFAULT_COIN, choices=sorted(COIN_DIAMETERS_MM))
    p.add_argument("--segmenter", default=str(models_dir() / "segmenter" / "segmenter.safetensors"))
    p.add_argument("--rotationnet", default=str(models_dir() / "rotationnet" / "rotationnet.safetensors"))
    p.add_argument("--no-rotationnet", action="store_true")
    p.add_argument("--verifier", default=None, help="blob verifier (default: the shipped one, when present)")
    p.add_argument("--no-verifier", action="store_true", help="keep every screw blob the segmenter finds")
    p.add_argument(
        "--edgenet", default=None, help="EdgeNet outline model (default: the shipped one, when present)"
    )
    p.add_argument("--no-edgenet", action="store_true", help="keep GrabCut's outlines")
    from core.measure.coin_edgenet import add_coin_edgenet_args

    add_coin_edgenet_args(p)
    from core.pose.headend import add_headend_args

    add_headend_args(p)
    p.add_argument(
        "--click",
        default=None,
        metavar="X,Y",
        help="a pixel on the screw (when the automatic outline missed it or took the wrong thing): only that "
        "screw is located, outlined afresh around the point",
    )
    add_head_reader_args(p)
    a = p.parse_args(argv)
    try:
        import cv2

        from core.locate import LocateConfig, Locator, parse_click
        from core.locate.output import write_result

        click = parse_click(a.click) if a.click else None

        bgr = cv2.imread(a.photo, cv2.IMREAD_COLOR)
        if bgr is None:
            raise ImageReadError("cannot read this file as an image; use a JPEG or PNG photo", path=a.photo)
        image = cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
        cfg = LocateConfig(coin=a.coin, use_rotationnet=not a.no_rotationnet)
        from core.measure.coin_edgenet import coin_edgenet_from_args
        from core.segment.edgenet import load_edgenet
        from core.segment.verify import load_verifier

        loc = Locator.from_files(a.segmenter, None if a.no_rotationnet else a.rotationnet, cfg)
        loc.verifier = None if a.no_verifier else load_verifier(a.verifier)
        loc.head_reader = head_reader_from_args(a)
        loc.edgenet = None if a.no_edgenet else load_edgenet(a.edgenet)
        loc.coin_edgenet = coin_edgenet_from_args(a)
        from core.pose.headend import headend_from_args

        loc.headend = headend_from_args(a)
        path = write_result(a.out, image, loc.locate(image, click=click))  # type: ignore
    except FvwError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    print(path)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
