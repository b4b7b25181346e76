"""One real-browser labelling run: open the workbench's Label page in headless Chromium on a studio photo,
click its screw once with the offline backend, and find a labelme JSON on disk that labelme's own reader accepts."""

from __future__ import annotations

import os
import time
from pathlib import Path

import cv2
import numpy as np
import pytest

from bench.browser import CHROMIUM, CHROMIUM_ARGS, free_port, serve, streamlit_command

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(
        not os.path.exists(CHROMIUM), reason="Debian chromium not installed (apt-get install -y chromium)"
    ),
]
REPO = Path(__file__).resolve().parents[2]


def test_label_one_photo_with_clicks_in_chromium(tmp_path):
    from playwright.sync_api import sync_playwright

    from core.catalog import load_arrays
    from core.interactive import next_click
    from core.synth.dataset import render_index
    from core.synth.render import StudioConfig

    ds = tmp_path / "annotations" / "bench"
    ds.mkdir(parents=True)
    # One studio photo (screw + coin on a rendered background), 640x480; the screw's exact polygon is the truth.
    studio = render_index(load_arrays(), "search", 7, 0, StudioConfig(width=640, height=480))
    cv2.imwrite(str(ds / "photo.png"), cv2.cvtColor(studio.image, cv2.COLOR_RGB2BGR))
    gt = np.zeros((480, 640), np.uint8)
    cv2.fillPoly(gt, [np.round(studio.screw_polygon).astype(np.int32)], 1)
    first = next_click(np.zeros((480, 640), bool), gt.astype(bool))
    assert first is not None
    (cx, cy), _ = first
    port = free_port()
    env = {
        **os.environ,
        "FVW_ANNOTATIONS": str(tmp_path / "annotations"),
        "FVW_MODELS": str(tmp_path / "models"),
        "FVW_RUNS": str(tmp_path / "runs"),
    }
    json_path = ds / "photo.json"
    app = streamlit_command(REPO / "apps" / "workbench.py", port)
    with serve(app, f"http://127.0.0.1:{port}/_stcore/health", cwd=REPO, env=env), sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        page.goto(f"http://127.0.0.1:{port}/label")
        frame = page.frame_locator("iframe[title*='streamlit_image_coordinates']")
        image = frame.locator("img#image")
        image.wait_for(timeout=30_000)
        page.wait_for_timeout(500)
        dialog = page.locator("[data-testid=stDialog]")
        assert dialog.count() == 0, dialog.first.inner_text()
        box = image.bounding_box()
        assert box is not None and box["width"] > 100
        sx = box["width"] / 640
        image.click(position={"x": cx * sx, "y": cy * sx})
        t0 = time.time()
        while not json_path.exists() and time.time() - t0 < 20:
            time.sleep(0.2)
        assert json_path.exists(), "no autosave after the click"
        page.get_by_text("1 shapes · autosaved to photo.json").wait_for(timeout=20_000)
        # README pictures come from `make screenshots` (bench/screenshots.py); this one stays in tmp.
        shot = tmp_path / "label.png"
        page.screenshot(path=str(shot), full_page=True)
        assert shot.stat().st_size > 0
        browser.close()

    from labelme._label_file import LabelFile as LabelmeFile

    from core.annotation import load_label_file, shapes_to_mask

    lm = LabelmeFile(str(json_path))  # labelme's own reader (checks imagePath and the declared size)
    assert [s["label"] for s in lm.shapes] == ["screw"] and lm.shapes[0]["shape_type"] == "polygon"
    mask = shapes_to_mask(load_label_file(json_path).shapes, 480, 640)
    inter, union = (mask & gt.astype(bool)).sum(), (mask | gt.astype(bool)).sum()
    assert inter / union > 0.7
