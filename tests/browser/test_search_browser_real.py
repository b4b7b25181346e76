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

from bench.browser import CHROMIUM, CHROMIUM_ARGS, free_port, serve

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
        browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1400, "height": 1100})
        page.goto(url)
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
