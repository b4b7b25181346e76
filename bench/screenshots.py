"""README screenshots of the workbench: ``python -m bench.screenshots [--out docs/screenshots]``.

Starts ``streamlit run apps/workbench.py`` on a scratch copy of the data (studio photos rendered into a temporary
annotations folder, the shipped ``models/``, an empty runs folder), opens each page in headless Chromium
(Debian ``chromium``; never ``playwright install``), labels one studio photo with one click on the Label page,
and saves a full-page PNG per page. Nothing in the repository changes except the PNGs in ``--out``.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

from bench.browser import CHROMIUM, CHROMIUM_ARGS, free_port, serve, streamlit_command

REPO = Path(__file__).resolve().parents[1]
# (url path, file name, seconds to let the page settle)
PAGES: tuple[tuple[str, str, float], ...] = (
    ("", "home.png", 3.0),
    ("datasets", "datasets.png", 6.0),
    ("train", "train.png", 3.0),
    ("models", "models.png", 4.0),
    ("texture", "texture.png", 8.0),
    ("redundancy", "redundancy.png", 3.0),
)


def _render_dataset(root: Path, n: int) -> tuple[float, float, int]:
    """``n`` studio search photos (screw + coin, labelme JSON) in ``root/studio``, the first one unlabelled.

    Returns:
        The first photo's screw centre (x, y) in pixels and its width, read from its JSON before it is removed.
    """
    from core.annotation import load_label_file
    from core.synth.dataset import generate_dataset

    out = root / "studio"
    generate_dataset(out, n=n, seed=21, mode="search")
    first = sorted(out.glob("*.json"))[0]
    label = load_label_file(first)
    screw = next(s for s in label.shapes if s.label == "screw")
    xs = [p[0] for p in screw.points]
    ys = [p[1] for p in screw.points]
    if not label.image_width:
        raise RuntimeError(f"{first} has no imageWidth; the studio always writes it")
    first.unlink()  # the Label page opens on the next unlabelled photo: this one
    return sum(xs) / len(xs), sum(ys) / len(ys), int(label.image_width)


def take(out_dir: Path, chromium: str, n_photos: int = 12) -> list[Path]:
    """Save one PNG per workbench page into ``out_dir``; returns the files written."""
    from playwright.sync_api import sync_playwright

    out_dir.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    with tempfile.TemporaryDirectory(prefix="fvw-shots-") as tmp:
        ann = Path(tmp) / "annotations"
        target = _render_dataset(ann, n_photos)
        port = free_port()
        env = {
            **os.environ,
            "FVW_ANNOTATIONS": str(ann),
            "FVW_RUNS": str(Path(tmp) / "runs"),
            "FVW_NO_DEFAULT_DATASET": "1",
        }
        app = streamlit_command(REPO / "apps" / "workbench.py", port)
        with (
            serve(app, f"http://127.0.0.1:{port}/_stcore/health", cwd=REPO, env=env),
            sync_playwright() as pw,
        ):
            browser = pw.chromium.launch(executable_path=chromium, headless=True, args=CHROMIUM_ARGS)
            page = browser.new_page(viewport={"width": 1500, "height": 1500})
            written.append(_label(page, port, target, out_dir / "label.png"))
            for path, name, settle in PAGES:
                page.goto(f"http://127.0.0.1:{port}/{path}")
                page.wait_for_selector("[data-testid=stMain]", timeout=60_000)
                page.wait_for_timeout(int(settle * 1000))
                _wait_idle(page)
                page.screenshot(path=str(out_dir / name), full_page=True)
                written.append(out_dir / name)
            browser.close()
    return written


def _wait_idle(page: object, timeout_s: float = 60.0) -> None:
    """Until Streamlit's "running" indicator is gone (the page has finished its script run)."""
    t0 = time.time()
    while time.time() - t0 < timeout_s:
        if page.locator("[data-testid=stStatusWidget]").count() == 0:  # type: ignore[attr-defined]
            return
        page.wait_for_timeout(300)  # type: ignore[attr-defined]


def _label(page: object, port: int, target: tuple[float, float, int], shot: Path) -> Path:
    """Open the Label page on the unlabelled studio photo and click its screw once (offline backend)."""
    page.goto(f"http://127.0.0.1:{port}/label")  # type: ignore[attr-defined]
    frame = page.frame_locator("iframe[title*='streamlit_image_coordinates']")  # type: ignore[attr-defined]
    image = frame.locator("img#image")
    image.wait_for(timeout=60_000)
    page.get_by_text("Offline (no weights)").wait_for(timeout=60_000)  # type: ignore[attr-defined]
    _wait_idle(page)
    page.wait_for_timeout(1000)  # type: ignore[attr-defined]
    box = image.bounding_box()
    if box is None:
        raise RuntimeError("the Label page shows no photo")
    x, y, width = target
    scale = box["width"] / width
    image.click(position={"x": x * scale, "y": y * scale})
    page.get_by_text("1 shapes · autosaved to").wait_for(timeout=60_000)  # type: ignore[attr-defined]
    _wait_idle(page)
    page.screenshot(path=str(shot), full_page=True)  # type: ignore[attr-defined]
    return shot


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.screenshots", description=__doc__.splitlines()[0])
    p.add_argument("--out", type=Path, default=REPO / "docs" / "screenshots")
    p.add_argument("--chromium", default=CHROMIUM)
    p.add_argument("--photos", type=int, default=12)
    args = p.parse_args(argv)
    if not Path(args.chromium).exists():
        print(
            f"error: no Chromium at {args.chromium}; apt-get install chromium or pass --chromium",
            file=sys.stderr,
        )
        return 2
    for path in take(args.out, args.chromium, args.photos):
        print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
