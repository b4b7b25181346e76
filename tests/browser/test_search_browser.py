"""One real-browser run of the search app: upload a photo in headless Chromium and read the top SKU."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from bench.browser import CHROMIUM, free_port, open_page, serve

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(
        not os.path.exists(CHROMIUM), reason="Debian chromium not installed (apt-get install chromium)"
    ),
]
HERE = Path(__file__).resolve().parent


@contextmanager
def _fake_app() -> Iterator[str]:
    """apps/search.py over the fake engine on a free port, until the block ends: its URL."""
    port = free_port()
    url = f"http://127.0.0.1:{port}/"
    with serve([sys.executable, str(HERE / "serve_search_fake.py"), str(port)], url):
        yield url


def test_upload_and_read_top_sku(tmp_path):
    from playwright.sync_api import sync_playwright

    photo = tmp_path / "screw.jpg"
    arr = np.full((240, 320, 3), 90, np.uint8)
    arr[100:140, 60:260] = 210
    Image.fromarray(arr).save(photo)
    with _fake_app() as url, sync_playwright() as pw:
        browser, page = open_page(pw, url)
        page.locator("input[type=file]").first.set_input_files(str(photo))
        page.wait_for_timeout(1000)
        page.get_by_role("button", name="Search").click()
        page.get_by_text("FVW-000000").first.wait_for(timeout=30_000)
        text = page.inner_text("body")
        assert "FVW-000000" in text and "FVW-000009" in text
        # Fake results: the picture stays in tmp; the README's docs/screenshots/search.png comes from the
        # real-engine test (test_search_browser_real.py, FVW_SCREENSHOTS=1).
        shot = tmp_path / "search-fake.png"
        page.screenshot(path=str(shot), full_page=True)
        assert shot.stat().st_size > 0
        browser.close()


def test_click_the_screw_on_the_photo(tmp_path):
    """The photo shows where the overlay goes as soon as it is chosen; a click on it searches for the screw at
    that pixel (gradio's select event gives the photo's own pixels, however the browser scales it)."""
    import re

    from playwright.sync_api import sync_playwright

    photo = tmp_path / "screw.png"
    arr = np.full((240, 320, 3), 255, np.uint8)  # the fake engine finds no screw on its own in a white photo
    arr[115:125, 110:210] = 40  # ... nor with this small bar in it, but a click on the bar finds it
    Image.fromarray(arr).save(photo)
    with _fake_app() as url, sync_playwright() as pw:
        browser, page = open_page(pw, url)
        page.locator("input[type=file]").first.set_input_files(str(photo))
        shown = "[...document.images].find(i => i.naturalWidth === 320 && i.naturalHeight === 240)"
        page.wait_for_function(f"() => {shown} !== undefined", timeout=30_000)
        page.get_by_text("Photo ready").first.wait_for(timeout=30_000)
        page.get_by_role("button", name="Search").click()
        page.get_by_text("No screw found").first.wait_for(timeout=30_000)  # the photo stays, to be clicked
        page.wait_for_timeout(1000)  # the answer re-sends the photo: click it once it has loaded again
        page.wait_for_function(f"() => {shown} !== undefined && {shown}.complete", timeout=30_000)
        handle = page.evaluate_handle(f"() => {shown}").as_element()
        assert handle is not None
        box = handle.bounding_box()
        assert box is not None
        # the centre of the element is the photo's centre (160, 120) even when the browser letterboxes it
        page.mouse.click(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
        page.get_by_text("FVW-000000").first.wait_for(timeout=30_000)
        m = re.search(r"clicked at \((\d+), (\d+)\)", page.inner_text("body"))
        assert m is not None
        assert abs(int(m.group(1)) - 160) <= 4 and abs(int(m.group(2)) - 120) <= 4
        browser.close()
