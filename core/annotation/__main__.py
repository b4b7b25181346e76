"""Command line: ``python -m core.annotation check DIR`` and ``python -m core.annotation coco DIR --out x.json``."""

from __future__ import annotations

import argparse
import collections
import json
import sys
from dataclasses import dataclass, field
from pathlib import Path

from core.annotation.coco import export_coco
from core.annotation.dataset import Dataset
from core.annotation.schema import is_label_dict, load_label_file
from core.errors import AnnotationError, DatasetError, FvwError

__all__ = ["CheckReport", "check_folder", "main"]


@dataclass
class CheckReport:
    """Counts from :func:`check_folder`."""

    json_files: int = 0
    label_files: int = 0
    read_ok: int = 0
    shapes: collections.Counter[str] = field(default_factory=collections.Counter)
    not_labelme: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    missing_images: list[str] = field(default_factory=list)
    unlabelled: int = 0


def _is_label_json(path: Path) -> bool:
    try:
        return is_label_dict(json.loads(path.read_text(encoding="utf-8")))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        return True  # a broken file is reported by load_label_file with the reason


def check_folder(root: str | Path) -> CheckReport:
    """Read every JSON under ``root``: which are labelme files, which parse, which photos are missing."""
    ds = Dataset(root)
    rep = CheckReport()
    for p in ds.json_files():
        rep.json_files += 1
        rel = p.relative_to(ds.root).as_posix()
        if not _is_label_json(p):
            rep.not_labelme.append(rel)
            continue
        rep.label_files += 1
        try:
            lf = load_label_file(p)
        except AnnotationError as e:
            rep.errors.append(str(e))
            continue
        rep.read_ok += 1
        rep.shapes.update(s.shape_type for s in lf.shapes)
        try:
            ds.image_path_for(p, lf)
        except DatasetError:
            rep.missing_images.append(rel)
        except AnnotationError as e:  # PathEscapeError
            rep.errors.append(str(e))
    rep.unlabelled = len(ds.unlabelled())
    return rep


def main(argv: list[str] | None = None) -> int:
    """Entry point; returns the exit status (1 when a file is malformed or the folder is unusable)."""
    ap = argparse.ArgumentParser(prog="python -m core.annotation", description=__doc__)
    sub = ap.add_subparsers(dest="cmd", required=True)
    c = sub.add_parser("check", help="read every labelme JSON in a folder and report counts and errors")
    c.add_argument("dir", type=Path)
    x = sub.add_parser("coco", help="export a dataset folder to COCO instances JSON")
    x.add_argument("dir", type=Path)
    x.add_argument("--out", type=Path, required=True)
    x.add_argument("--labels", type=Path, help="class names file, one per line (labelme labels.txt)")
    args = ap.parse_args(argv)
    try:
        if args.cmd == "check":
            rep = check_folder(args.dir)
            print(
                f"json files: {rep.json_files} (labelme: {rep.label_files}, other JSON: {len(rep.not_labelme)})"
            )
            print(f"labelme files read: {rep.read_ok}/{rep.label_files}")
            print("shapes: " + ", ".join(f"{k}={v}" for k, v in sorted(rep.shapes.items())))
            print(f"photos missing (imagePath not found, no imageData): {len(rep.missing_images)}")
            print(f"unlabelled photos: {rep.unlabelled}")
            for name in rep.not_labelme:
                print(f"  not a labelme file: {name}")
            for err in rep.errors:
                print(f"  ERROR {err}")
            return 1 if rep.errors else 0
        labels = None
        if args.labels is not None:
            labels = [ln.strip() for ln in args.labels.read_text(encoding="utf-8").splitlines() if ln.strip()]
        s = export_coco(args.dir, args.out, categories=labels, skip_errors=True)
        print(f"wrote {args.out}: {s.images} images, {s.annotations} annotations, {s.categories} categories")
        print(f"skipped shapes (no area or unlisted label): {s.skipped_shapes}")
        for err in s.errors:
            print(f"  ERROR {err}")
        return 1 if s.errors else 0
    except FvwError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
