"""``python -m core.search``: table and JSON output, and one-line errors with exit code 2 for bad inputs."""

from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from core.errors import CheckpointError, NoScrewFoundError
from core.search.cli import main
from core.search.result import SearchResult
from core.search.scoring import Match


class _Engine:
    """Ranks k fake SKUs; no screw in an all-white photo; no coin in a blue-ish one."""

    def __init__(self) -> None:
        self.calls: list[tuple[tuple[int, ...], str, int]] = []
        self.clicks: list[tuple[float, float] | None] = []

    def search(
        self,
        image: np.ndarray,
        *,
        coin: str = "euro_1",
        k: int = 10,
        click: tuple[float, float] | None = None,
    ) -> SearchResult:
        self.calls.append((image.shape, coin, k))
        self.clicks.append(click)
        if image.min() >= 250:
            raise NoScrewFoundError("the segmenter found no screw pixels")
        no_coin = image[..., 2].mean() > 150
        matches = [
            Match(
                sku=f"FVW-{i:06d}",
                score=2.0 - 1.5 * i,
                attributes={"head": ("pan", 0.9 - 0.1 * i), "tip": ("sharp", 0.5)},
                length_mm=20.0 + i,
                diameter_mm=4.0,
            )
            for i in range(k)
        ]
        return SearchResult(
            overlay=image,
            length_mm=None if no_coin else 20.3,
            length_sigma_mm=None if no_coin else 0.4,
            diameter_mm=None if no_coin else 4.1,
            diameter_sigma_mm=None if no_coin else 0.1,
            attributes={"head": [("pan", 0.9), ("round", 0.05), ("truss", 0.03)], "tip": [("sharp", 0.5)]},
            matches=matches,
            warnings=["no coin found: sizes unavailable"] if no_coin else [],
        )

    def thumbnail(self, sku: str, size: int = 128) -> np.ndarray:
        return np.zeros((size, size, 3), np.uint8)


def _photo(tmp_path: Path, value: tuple[int, int, int] = (90, 90, 90), name: str = "p.jpg") -> Path:
    arr = np.zeros((60, 80, 3), np.uint8)
    arr[:] = value
    arr[20:40, 10:70] = 40  # a dark bar, so min() < 250 unless the whole photo is white
    if min(value) >= 250:
        arr[:] = 255
    path = tmp_path / name
    Image.fromarray(arr).save(path)
    return path


def _run(args: list[str], engine: _Engine | None = None) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    eng = engine or _Engine()
    code = main(args, engine_factory=lambda models, catalog: eng, stdout=out, stderr=err)
    return code, out.getvalue(), err.getvalue()


def test_table_lists_ranking_size_and_top3(tmp_path):
    engine = _Engine()
    code, out, err = _run([str(_photo(tmp_path)), "--top", "3", "--coin", "us_quarter"], engine)
    assert code == 0, err
    assert engine.calls == [((60, 80, 3), "us_quarter", 3)]
    lines = out.splitlines()
    assert lines[0].split() == ["rank", "sku", "score", "head", "tip", "length", "diameter"]
    assert lines[2].split()[:5] == ["1", "FVW-000000", "2.00", "pan", "(0.90)"]
    assert lines[4].split()[:3] == ["3", "FVW-000002", "-1.00"]
    assert "FVW-000003" not in out
    assert "measured length:   20.3 ± 0.4 mm" in out
    assert "head    pan 0.90, round 0.05, truss 0.03" in out
    assert "no classifier for finish, thread" in out
    assert err == ""


def test_json_is_exactly_the_match_list(tmp_path):
    code, out, err = _run([str(_photo(tmp_path)), "--json", "--top", "2"])
    assert code == 0, err
    data = json.loads(out)  # stdout holds nothing but the JSON
    assert data == [
        {
            "sku": "FVW-000000",
            "score": 2.0,
            "attributes": {"head": ["pan", 0.9], "tip": ["sharp", 0.5]},
            "length_mm": 20.0,
            "diameter_mm": 4.0,
        },
        {
            "sku": "FVW-000001",
            "score": 0.5,
            "attributes": {"head": ["pan", 0.8], "tip": ["sharp", 0.5]},
            "length_mm": 21.0,
            "diameter_mm": 4.0,
        },
    ]


def test_no_coin_still_ranks_and_says_size_unavailable(tmp_path):
    code, out, err = _run([str(_photo(tmp_path, (60, 60, 230))), "--json"])
    assert code == 0
    assert len(json.loads(out)) == 10
    assert "size unavailable" in err and "no coin found" in err
    code, out, _ = _run([str(_photo(tmp_path, (60, 60, 230)))])
    assert code == 0 and "measured length:   unavailable" in out


def _one_line_error(code: int, out: str, err: str, *words: str) -> None:
    assert code == 2
    assert out == ""
    assert len(err.strip().splitlines()) == 1, err
    assert err.startswith("error: ") and "Traceback" not in err
    for w in words:
        assert w in err, err


def test_missing_file(tmp_path):
    engine = _Engine()
    _one_line_error(*_run([str(tmp_path / "nope.jpg")], engine), "not found", "nope.jpg")
    assert engine.calls == []


def test_not_an_image(tmp_path):
    bad = tmp_path / "notes.jpg"
    bad.write_text("this is not a photo")
    _one_line_error(*_run([str(bad)]), "not a readable image", "notes.jpg")


def test_no_screw(tmp_path):
    _one_line_error(*_run([str(_photo(tmp_path, (255, 255, 255)))]), "no screw found", "lay the screw flat")


@pytest.mark.parametrize(
    ("extra", "words"),
    [(["--coin", "peso"], ("unknown coin 'peso'", "euro_1")), (["--top", "0"], ("--top must be >= 1",))],
)
def test_bad_options(tmp_path, extra, words):
    _one_line_error(*_run([str(_photo(tmp_path)), *extra]), *words)


def test_engine_error_is_one_line(tmp_path):
    def factory(models, catalog):
        raise CheckpointError("no segmenter checkpoint; train one", path="models/segmenter/x")

    out, err = io.StringIO(), io.StringIO()
    code = main(
        [str(_photo(tmp_path)), "--models", str(tmp_path)], engine_factory=factory, stdout=out, stderr=err
    )
    _one_line_error(code, out.getvalue(), err.getvalue(), "no segmenter checkpoint")


def _real(args: list[str]) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    return main(args, stdout=out, stderr=err), out.getvalue(), err.getvalue()


def test_real_models_on_a_studio_photo(tmp_path):
    """One real run: shipped segmenter + classifiers (the default engine), a studio photo with a 1-euro coin."""
    from core.catalog.catalog import load_arrays
    from core.synth.dataset import render_index
    from core.synth.render import StudioConfig

    photo = render_index(
        load_arrays(), "search", 4_000_000, 1, StudioConfig(width=640, height=480, coin="euro_1")
    )
    path = tmp_path / "studio.jpg"
    assert photo.jpeg is not None
    path.write_bytes(photo.jpeg)
    code, out, err = _real(["--json", "--top", "5", str(path)])
    assert code == 0, err
    data = json.loads(out)
    assert len(data) == 5
    assert [d["score"] for d in data] == sorted((d["score"] for d in data), reverse=True)
    assert all(d["sku"].startswith("FVW-") for d in data)
    assert set(data[0]) == {"sku", "score", "attributes", "length_mm", "diameter_mm"}
    assert {"head", "finish", "tip"} <= set(data[0]["attributes"])
    # The size is part of the score: the top SKU's nominal length is near the true one.
    assert photo.sku is not None
    assert abs(data[0]["length_mm"] - photo.sku.length_mm) <= 0.5 * photo.sku.length_mm


def test_click_goes_to_the_engine_and_bad_clicks_are_one_line_errors(tmp_path):
    engine = _Engine()
    code, _, err = _run([str(_photo(tmp_path)), "--click", "30,25.5"], engine)
    assert code == 0, err
    assert engine.clicks == [(30.0, 25.5)]
    _one_line_error(*_run([str(_photo(tmp_path)), "--click", "30"]), "--click takes X,Y")
    engine = _Engine()
    _one_line_error(*_run([str(_photo(tmp_path)), "--click", "90,10"], engine), "outside the 80x60 photo")
    assert engine.calls == []  # refused before the models load
