"""``python -m core.search photo.jpg [--top 10] [--json] [--coin euro_1] [--catalog PATH] [--models DIR]``.

Prints the catalog ranking for one photo of a screw lying next to a coin. The human output is a table
(rank, SKU, score, each attribute's catalog value with the classifier's probability for it, nominal length
and diameter) followed by the measured size and each attribute's top-3. ``--json`` prints exactly a JSON list
of ``{sku, score, attributes: {name: [value, probability]}, length_mm, diameter_mm}`` on stdout, best first;
everything else (warnings, log lines) goes to stderr so the output can be piped.

Exit codes: 0 = ranked (also without a coin: sizes are then unavailable and the ranking uses the attributes
only, which stderr says); 2 = a bad input or a missing model, with a one-line ``error: ...`` on stderr.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TextIO

from core.catalog.coins import COINS, DEFAULT_COIN
from core.catalog.taxonomy import ATTRIBUTE_NAMES
from core.errors import FvwError, InputError, NoScrewFoundError
from core.search.result import SearchEngine, SearchResult

__all__ = ["MAX_SIDE", "build_parser", "format_table", "main", "matches_json"]

# Same as the Gradio app: larger photos are decoded at a reduced size instead of refused.
MAX_SIDE = 2048

EngineFactory = Callable[[Path | None, str | None], SearchEngine]


def build_parser() -> argparse.ArgumentParser:
    """The command line of ``python -m core.search``."""
    p = argparse.ArgumentParser(
        prog="python -m core.search",
        description="Rank catalog SKUs for one photo of a screw lying next to a coin.",
    )
    p.add_argument("photo", help="the photo (JPEG/PNG...), screw and coin on a plain surface")
    p.add_argument("--top", type=int, default=10, help="how many SKUs to print (default 10)")
    p.add_argument("--json", action="store_true", help="print the ranking as a JSON list on stdout")
    p.add_argument("--coin", default=DEFAULT_COIN, help=f"coin in the photo (default {DEFAULT_COIN})")
    p.add_argument(
        "--click",
        default=None,
        metavar="X,Y",
        help="a pixel on the screw, when the automatic answer outlined nothing or the wrong thing (see the "
        "overlay of a first search): the search answers for the screw there",
    )
    p.add_argument("--catalog", default=None, help="SQLite catalog (python -m core.catalog import ...)")
    p.add_argument("--models", default=None, help="models folder (default: models/ or FVW_MODELS)")
    return p


def matches_json(result: SearchResult) -> list[dict[str, object]]:
    """The ``--json`` payload: one dict per ranked SKU, best first (see the module docstring)."""
    return [m.to_json() for m in result.matches]


def _mm(value: float | None, sigma: float | None) -> str:
    if value is None:
        return "unavailable (no coin found: sizes not used in the ranking)"
    return f"{value:.1f} ± {sigma:.1f} mm" if sigma else f"{value:.1f} mm"


def format_table(result: SearchResult) -> str:
    """The human output: ranking table, measured size, per-attribute top-3 and warnings."""
    attrs = [a for a in ATTRIBUTE_NAMES if any(a in m.attributes for m in result.matches)]
    headers = ["rank", "sku", "score", *attrs, "length", "diameter"]
    rows: list[list[str]] = []
    for i, m in enumerate(result.matches, start=1):
        cells = [str(i), m.sku, f"{m.score:.2f}"]
        for a in attrs:
            value, p = m.attributes.get(a, ("-", float("nan")))
            cells.append(f"{value} ({p:.2f})" if a in m.attributes else "-")
        cells += [f"{m.length_mm:g} mm", f"{m.diameter_mm:g} mm"]
        rows.append(cells)
    widths = [max(len(h), *(len(r[j]) for r in rows)) if rows else len(h) for j, h in enumerate(headers)]
    lines = ["  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True))]
    lines.append("  ".join("-" * w for w in widths))
    lines += ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)) for r in rows]
    lines.append("")
    lines.append(f"measured length:   {_mm(result.length_mm, result.length_sigma_mm)} (under the head)")
    lines.append(f"head to tip:       {_mm(result.overall_length_mm, result.overall_length_sigma_mm)}")
    lines.append(f"measured diameter: {_mm(result.diameter_mm, result.diameter_sigma_mm)}")
    if result.attributes:
        lines.append("")
        lines.append("per-attribute top-3 (probability):")
        for name in ATTRIBUTE_NAMES:
            if name in result.attributes:
                top = ", ".join(f"{v} {p:.2f}" for v, p in result.attributes[name][:3])
                lines.append(f"  {name:<7} {top}")
    missing = [a for a in ATTRIBUTE_NAMES if a not in result.attributes]
    if missing:
        lines.append(f"  (no classifier for {', '.join(missing)}: not used in the ranking)")
    return "\n".join(lines)


def _default_factory(models: Path | None, catalog: str | None) -> SearchEngine:
    from core.search.engine import default_engine

    return default_engine(models, catalog)


def _search(args: argparse.Namespace, factory: EngineFactory) -> SearchResult:
    from core.imageio import read_image
    from core.locate.click import check_click, parse_click

    if args.top < 1:
        raise InputError(f"--top must be >= 1, got {args.top}", field="top")
    if args.coin not in COINS:
        raise InputError(f"unknown coin {args.coin!r}; valid coins: {', '.join(COINS)}", field="coin")
    photo = Path(args.photo)
    if not photo.is_file():
        raise InputError(f"photo {str(photo)!r} not found; give the path of an existing image file")
    click = parse_click(args.click) if args.click else None
    # Read the photo before loading the models: a wrong path fails in milliseconds, not seconds.
    image = read_image(photo, downscale_to=MAX_SIDE)
    if click is not None:
        click = check_click(click, (image.shape[0], image.shape[1]))
    engine = factory(Path(args.models) if args.models else None, args.catalog)
    return engine.search(image, coin=args.coin, k=args.top, click=click)


def main(
    argv: Sequence[str] | None = None,
    *,
    engine_factory: EngineFactory | None = None,
    stdout: TextIO | None = None,
    stderr: TextIO | None = None,
) -> int:
    """Run the command; returns the exit code (0 ranked, 2 bad input).

    Args:
        argv: arguments without the program name (default: ``sys.argv[1:]``).
        engine_factory: ``(models_dir, catalog) -> SearchEngine``; default :func:`default_engine` (tests
            pass a fake).
        stdout: where the ranking goes (default ``sys.stdout``).
        stderr: where messages go (default ``sys.stderr``).
    """
    out = stdout or sys.stdout
    err = stderr or sys.stderr
    args = build_parser().parse_args(argv)
    try:
        # Whatever a library prints while loading or searching must not corrupt the JSON on stdout.
        with contextlib.redirect_stdout(err):
            result = _search(args, engine_factory or _default_factory)
    except NoScrewFoundError as e:
        print(
            f"error: no screw found in {args.photo} ({e.message}); lay the screw flat on a plain surface, "
            "fill more of the frame with it and try again",
            file=err,
        )
        return 2
    except FvwError as e:
        print(f"error: {' '.join(str(e).split())}", file=err)
        return 2
    for w in result.warnings:
        print(f"warning: {w}", file=err)
    if result.length_mm is None and result.diameter_mm is None:
        print("note: size unavailable (no coin measured); ranked by the attributes only", file=err)
    if args.json:
        print(json.dumps(matches_json(result), ensure_ascii=False), file=out)
    else:
        print(format_table(result), file=out)
    return 0
