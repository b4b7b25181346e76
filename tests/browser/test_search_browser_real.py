"""The real search app (apps/search.py over the shipped models) in headless Chromium: upload a studio photo,
read the ranking, and take the README's screenshot.

Slow (loads the real models and serves the real app): ``pytest -m slow tests/browser/test_search_browser_real.py``.
With ``FVW_SCREENSHOTS=1`` the picture is written to docs/screenshots/search.png (tracked; refreshed only on
request), otherwise into the test's tmp folder.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

from bench.browser import CHROMIUM, free_port, open_page, serve

pytestmark = [
    pytest.mark.browser,
    pytest.mark.slow,
    pytest.mark.skipif(
        not os.path.exists(CHROMIUM), reason="Debian chromium not installed (apt-get install chromium)"
    ),
]
REPO = Path(__file__).resolve().parents[2]
SCREENSHOT = REPO / "docs" / "screenshots" / "search.png"


def test_real_app_ranks_a_studio_photo(tmp_path):
    from playwright.sync_api import sync_playwright

    from core.catalog.catalog import load_arrays
    from core.synth.dataset import render_index
    from core.synth.render import StudioConfig

    # A held-out studio photo (the bench's seed stream) with the app's default coin.
    photo = render_index(load_arrays(), "search", 4_000_000, 1, StudioConfig(coin="euro_1"))
    assert photo.jpeg is not None and photo.sku is not None
    path = tmp_path / "screw_and_coin.jpg"
    path.write_bytes(photo.jpeg)
    port = free_port()
    url = f"http://127.0.0.1:{port}/"
    app = [sys.executable, str(REPO / "apps" / "search.py"), "--port", str(port)]
    with serve(app, url, cwd=REPO, timeout=180.0), sync_playwright() as pw:
        browser, page = open_page(pw, url)
        page.locator("input[type=file]").first.set_input_files(str(path))
        page.wait_for_timeout(1500)
        page.get_by_role("button", name="Search").click()
        page.get_by_text("Timings:").first.wait_for(timeout=120_000)
        page.wait_for_timeout(2000)  # let the galleries load their images
        text = page.inner_text("body")
        assert "Length" in text and "mm" in text
        assert text.count("FVW-") >= 10, text[:2000]  # ten ranked SKUs (gallery captions + table)
        shot = SCREENSHOT if os.environ.get("FVW_SCREENSHOTS") else tmp_path / "search.png"
        shot.parent.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(shot), full_page=True)
        assert shot.stat().st_size > 0
        browser.close()


CLICK_SCREENSHOT = REPO / "docs" / "screenshots" / "search-click.png"


def test_real_app_finds_a_missed_screw_with_one_click(tmp_path):
    """The app's first example (a copper screw on gravel) is one the segmenter misses: the search says so, and a
    click on the screw in the photo gets its SKU ranked first."""
    import re

    from playwright.sync_api import sync_playwright

    from core.catalog.catalog import load_arrays
    from core.interactive.clicks import first_click
    from core.search.engine import example_set
    from core.segment.data import polygon_mask
    from core.synth.dataset import render_index
    from core.synth.render import StudioConfig

    example = example_set()[0]
    photo = render_index(load_arrays(), "search", 777, 0, StudioConfig(width=1280, height=960))
    assert photo.sku is not None and photo.screw_polygon is not None
    x, y = first_click(polygon_mask(photo.screw_polygon, 960, 1280))
    port = free_port()
    url = f"http://127.0.0.1:{port}/"
    app = [sys.executable, str(REPO / "apps" / "search.py"), "--port", str(port)]
    with serve(app, url, cwd=REPO, timeout=180.0), sync_playwright() as pw:
        browser, page = open_page(pw, url)
        page.get_by_text(example.label).first.click()  # sets the photo and its coin
        shown = "[...document.images].find(i => i.naturalWidth === 1280 && i.naturalHeight === 960)"
        page.wait_for_function(f"() => {shown} !== undefined", timeout=60_000)
        page.get_by_role("button", name="Search").click()
        page.get_by_text("No screw found").first.wait_for(timeout=120_000)
        # the answer re-sends the photo to the overlay: click it once it has loaded again
        page.wait_for_timeout(1000)
        page.wait_for_function(f"() => {shown} !== undefined && {shown}.complete", timeout=30_000)
        # the photo's pixel (x, y) on the page: the image is scaled to fit its box and centred in it
        px, py = page.evaluate(
            f"""([x, y]) => {{ const i = {shown}; const r = i.getBoundingClientRect();
                const s = Math.min(r.width / i.naturalWidth, r.height / i.naturalHeight);
                return [r.left + (r.width - i.naturalWidth * s) / 2 + x * s,
                        r.top + (r.height - i.naturalHeight * s) / 2 + y * s]; }}""",
            [x, y],
        )
        page.mouse.click(px, py)
        page.get_by_text("Answer for the screw you clicked").first.wait_for(timeout=120_000)
        page.wait_for_timeout(2000)  # let the galleries load their images
        text = page.inner_text("body")
        m = re.search(r"clicked at \((\d+), (\d+)\)", text)
        assert m is not None and abs(int(m.group(1)) - x) <= 6 and abs(int(m.group(2)) - y) <= 6
        assert photo.sku.id in text
        shot = CLICK_SCREENSHOT if os.environ.get("FVW_SCREENSHOTS") else tmp_path / "search-click.png"
        shot.parent.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(shot))  # the viewport: photo, outline, sizes and crops
        assert shot.stat().st_size > 0
        browser.close()
