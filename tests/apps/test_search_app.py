"""The Gradio search app over a fake engine: handler, bad inputs, the named API via gradio_client."""

from __future__ import annotations

import socket
import sys
from pathlib import Path

import gradio as gr
import numpy as np
import pytest
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parent))
from fake_search import FakeEngine  # noqa: E402

from apps.search import build_demo, handle_search  # noqa: E402


def _photo(tmp_path: Path, color=(90, 70, 50), size=(320, 240), name="p.jpg") -> str:
    arr = np.zeros((size[1], size[0], 3), np.uint8)
    arr[:] = color
    arr[100:140, 60:260] = (200, 200, 210)
    p = tmp_path / name
    Image.fromarray(arr).save(p)
    return str(p)


def test_handler_returns_every_output(tmp_path):
    eng = FakeEngine()
    overlay, crops, summary, attrs, gallery, table, raw = handle_search(
        eng, _photo(tmp_path), "us_quarter", 5
    )
    assert overlay.shape == (240, 320, 3)
    assert len(crops) == 2 and len(gallery) == 5 and len(table) == 5
    assert "20.3" in summary and "us_quarter" in summary
    assert "3.40 px/mm" in summary and "camera tilt ~12°" in summary  # the coin as evidence
    assert attrs[0][:3] == ["head", 1, "Pan"]
    assert raw["matches"][0]["sku"] == "FVW-000000"
    assert eng.calls[-1][1:] == ("us_quarter", 5)


def test_no_coin_is_a_warning_not_an_error(tmp_path):
    _, _, summary, *_ = handle_search(FakeEngine(), _photo(tmp_path, color=(20, 20, 250)), "euro_1", 3)
    assert "unavailable" in summary and "no coin" in summary


@pytest.mark.parametrize(
    "make, expect",
    [
        (lambda d: None, "Upload a photo"),
        (lambda d: _write(d / "x.jpg", b"not an image"), "not an image|cannot|identify|image"),
        (lambda d: _write(d / "t.jpg", Path(_photo(d)).read_bytes()[:300]), "(?i)truncated|corrupt"),
    ],
)
def test_bad_inputs_are_clear_errors(tmp_path, make, expect):
    with pytest.raises(gr.Error, match=expect):
        handle_search(FakeEngine(), make(tmp_path), "euro_1", 10)


def _write(p: Path, data: bytes) -> str:
    p.write_bytes(data)
    return str(p)


def _white(d: Path) -> str:
    p = d / "white.png"
    Image.fromarray(np.full((64, 64, 3), 255, np.uint8)).save(p)
    return str(p)


def test_a_click_searches_for_the_screw_there(tmp_path):
    from apps.search import show_photo

    eng = FakeEngine()
    white = _white(tmp_path)
    shown = show_photo(white)  # the photo appears where a person can click, before any search
    assert shown is not None and shown.shape == (64, 64, 3)
    assert show_photo(None) is None and show_photo(_write(tmp_path / "x.jpg", b"junk")) is None
    # No screw: the photo stays on show with the message (no error badge over it), to be clicked next.
    with pytest.warns(UserWarning, match="No screw found"):
        overlay, crops, summary, attrs, gallery, table, raw = handle_search(eng, white, "euro_1", 5)
    assert overlay.shape == (64, 64, 3) and (overlay == 255).all()
    assert "No screw found" in summary and "Click the screw on the photo" in summary
    assert crops == attrs == gallery == table == [] and raw["error"] == "no screw found"
    photo = _photo(tmp_path)
    _, _, summary, *_, raw = handle_search(eng, photo, "euro_1", 5, click=(100.0, 120.0))
    assert eng.clicks[-1] == (100.0, 120.0) and raw["clicked"] is True
    assert summary.startswith("Answer for the screw you clicked at (100, 120)")
    with pytest.warns(UserWarning, match="Nothing to measure where you clicked"):
        _, _, summary, *_ = handle_search(eng, white, "euro_1", 5, click=(5.0, 5.0))  # nothing there (fake)
    assert "Nothing to measure where you clicked" in summary
    with pytest.raises(gr.Error, match="outside the 320x240 photo"):
        handle_search(eng, photo, "euro_1", 5, click=(400.0, 5.0))


def test_unknown_coin(tmp_path):
    with pytest.raises(gr.Error, match="Unknown coin"):
        handle_search(FakeEngine(), _photo(tmp_path), "doubloon", 10)


def test_a_50_megapixel_photo_is_downscaled_not_refused(tmp_path):
    p = tmp_path / "big.jpg"
    Image.new("RGB", (8660, 5774), (90, 70, 50)).save(p, quality=50)  # 50.0 MP
    eng = FakeEngine()
    handle_search(eng, str(p), "euro_1", 2)
    assert max(eng.calls[-1][0][:2]) <= 2048


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_named_api_endpoint_through_gradio_client(tmp_path):
    from gradio_client import Client, handle_file

    demo = build_demo(FakeEngine())
    port = _free_port()
    demo.launch(server_name="127.0.0.1", server_port=port, prevent_thread_lock=True, quiet=True)
    try:
        client = Client(f"http://127.0.0.1:{port}/", verbose=False)
        out = client.predict(handle_file(_photo(tmp_path)), None, "euro_1", 4, api_name="/search")
        raw = out[-1]
        assert [m["sku"] for m in raw["matches"]] == [f"FVW-{i:06d}" for i in range(4)]
        # A bad input comes back as an error, and the app keeps serving.
        bad = tmp_path / "bad.jpg"
        bad.write_text("nope")
        with pytest.raises(Exception, match="image"):
            client.predict(handle_file(str(bad)), None, "euro_1", 4, api_name="/search")
        again = client.predict(
            handle_file(_photo(tmp_path, name="q.jpg")), None, "euro_1", 2, api_name="/search"
        )
        assert len(again[-1]["matches"]) == 2
        # The click search (the photo's select event) is callable too: x, y in the photo's pixels.
        at = client.predict(
            handle_file(_photo(tmp_path, name="r.jpg")), None, "euro_1", 3, 100, 120, api_name="/search_at"
        )
        assert at[-1]["clicked"] is True and len(at[-1]["matches"]) == 3
        # No screw: an answer (not an exception) whose JSON says so, with the message.
        none = client.predict(handle_file(_white(tmp_path)), None, "euro_1", 3, api_name="/search")
        assert none[-1]["error"] == "no screw found" and "No screw found" in none[-1]["message"]
    finally:
        demo.close()


def test_warm_up_searches_until_an_answer_and_survives_a_failing_engine(tmp_path):
    from apps.search import warm_up
    from core.errors import NoScrewFoundError

    eng = FakeEngine()  # a pure white photo has no screw for the fake engine
    white = str(tmp_path / "white.png")
    Image.fromarray(np.full((240, 320, 3), 255, np.uint8)).save(white)
    photo = _photo(tmp_path)
    warm_up(eng, [white, photo, photo])
    assert len(eng.calls) == 2  # stopped at the first answer

    class Failing(FakeEngine):
        def search(self, image, *, coin="euro_1", k=10, click=None):
            self.calls.append((image.shape, coin, k))
            raise NoScrewFoundError("no screw found in the photo")

    failing = Failing()
    warm_up(failing, [photo] * 5)  # the app still starts; errors are reported per photo
    assert len(failing.calls) == 3


def test_examples_set_their_coin_and_say_what_they_show(tmp_path):
    from core.search.result import ExamplePhoto

    ex = [
        ExamplePhoto(
            _photo(tmp_path, name="a.jpg"), "us_quarter", "FVW-000001, 45 mm, gravel background, us quarter"
        ),
        ExamplePhoto(
            _photo(tmp_path, name="b.jpg"), "uk_pound", "FVW-000002, 10 mm, brick background, uk pound"
        ),
    ]
    demo = build_demo(FakeEngine(), examples=ex)
    (ds,) = [b for b in demo.blocks.values() if isinstance(b, gr.Dataset)]
    coin = next(
        b for b in demo.blocks.values() if isinstance(b, gr.Dropdown) and b.label == "Coin in the photo"
    )
    assert coin._id in [c._id for c in ds._components]  # clicking an example sets the coin too
    assert [s[1] for s in ds.samples] == ["us_quarter", "uk_pound"]
    assert ds.sample_labels == [e.label for e in ex]
    # plain paths still work (the coin stays as the user set it)
    demo2 = build_demo(FakeEngine(), examples=[ex[0].path])
    (ds2,) = [b for b in demo2.blocks.values() if isinstance(b, gr.Dataset)]
    assert len(ds2._components) == 1 and len(ds2.samples) == 1
