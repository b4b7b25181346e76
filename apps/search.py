"""Screw photo search — Gradio app (``python apps/search.py [--share] [--port N]``).

A thin face over ``core``: :func:`build_demo` takes any :class:`core.search.SearchEngine`, so tests pass a
fake one. Every typed error from core becomes a ``gr.Error`` with its message; the app keeps serving. The photo
shows as soon as it is chosen; a click on it (or on the overlay) searches for the screw at that pixel (a screw the
segmenter missed, or the wrong object outlined), and "no screw found" leaves the photo on show for that click.
Bound to 127.0.0.1 unless ``--host`` says otherwise; ``--share`` asks Gradio for a public link.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

_REPO = Path(__file__).resolve().parents[1]
if str(_REPO) not in sys.path:
    sys.path.insert(0, str(_REPO))

import gradio as gr  # noqa: E402
import numpy as np  # noqa: E402

from core.catalog.taxonomy import display_name  # noqa: E402
from core.errors import FvwError, NoScrewFoundError  # noqa: E402
from core.imageio import read_image  # noqa: E402
from core.locate.click import check_click  # noqa: E402
from core.search.result import COINS_MM, ExamplePhoto, SearchEngine, SearchResult  # noqa: E402

__all__ = ["build_demo", "handle_search", "show_photo", "main"]

# Photos above this many pixels are decoded at a reduced size instead of refused (a 50 MP phone photo is
# ordinary); the decoder's own bomb guard still refuses absurd files.
MAX_SIDE = 2048
# Gallery captions of the engine's crops (the classifier inputs; finish_wb is white-balanced by the coin).
_CROP_CAPTIONS = {"finish_wb": "finish (balanced by the coin)", "thread": "thread strip"}


def _fmt_mm(value: float | None, sigma: float | None) -> str:
    if value is None:
        return "unavailable"
    return f"{value:.1f} ± {sigma:.1f} mm" if sigma else f"{value:.1f} mm"


def _summary(res: SearchResult) -> str:
    lines = [
        f"**Length** {_fmt_mm(res.length_mm, res.length_sigma_mm)} (under the head) · "
        f"**Head to tip** {_fmt_mm(res.overall_length_mm, res.overall_length_sigma_mm)} · "
        f"**Diameter** {_fmt_mm(res.diameter_mm, res.diameter_sigma_mm)}",
    ]
    if res.coin:
        lines.append(
            f"Coin {res.coin.get('type', '?')}: radius {float(res.coin.get('radius_px', 0)):.1f} px, "
            f"{float(res.coin.get('px_per_mm', 0)):.2f} px/mm"
            + (
                f", outline on the photo's edges, camera tilt ~{res.coin['tilt_deg']:.0f}°"
                if "tilt_deg" in res.coin
                else ""
            )
        )
    for w in res.warnings:
        lines.append(f"⚠️ {w}")
    if res.timings_ms:
        lines.append("Timings: " + ", ".join(f"{k} {v:.0f} ms" for k, v in res.timings_ms.items()))
    return "\n\n".join(lines)


def _attribute_rows(res: SearchResult) -> list[list[Any]]:
    rows = []
    for name, vals in res.attributes.items():
        for rank, (value, p) in enumerate(vals[:3], start=1):
            rows.append([name, rank, display_name(value), round(float(p), 3)])
    return rows


def show_photo(photo: str | None) -> Any:
    """The photo as the search will read it, shown where the overlay goes as soon as it is chosen: a person can
    click the screw on it even when the search finds none. None (nothing shown) when it cannot be read: the
    search then says why."""
    if not photo:
        return None
    try:
        return read_image(photo, downscale_to=MAX_SIDE)
    except FvwError:
        return None


def handle_search(
    engine: SearchEngine,
    photo: str | None,
    coin: str,
    k: float,
    click: tuple[float, float] | None = None,
) -> tuple[Any, ...]:
    """The app's one handler: a photo path in, every output component's value out. ``click``: (x, y) of the
    screw a person clicked on the photo (its pixels as the search reads it), to answer for that screw.

    No screw found (or nothing at the click): the photo itself as the overlay, the message as the summary and
    ``{"error": "no screw found", "message": ...}`` as the JSON, so the person can click the screw on it.

    Raises:
        gr.Error: with the core error's message for every other bad input (the app keeps serving).
    """
    if not photo:
        raise gr.Error("Upload a photo (or take one with the webcam) of a screw next to a coin.")
    if coin not in COINS_MM:
        raise gr.Error(f"Unknown coin {coin!r}; choose one of {', '.join(COINS_MM)}.")
    try:
        image = read_image(photo, downscale_to=MAX_SIDE)
        if click is not None:
            click = check_click(click, (image.shape[0], image.shape[1]))
        res = engine.search(image, coin=coin, k=int(k), click=click)
    except NoScrewFoundError as e:
        # Not a gr.Error: that would cover the photo with an error badge, and the photo is where the person
        # clicks the screw next. The photo stays, the message goes to the summary (and a warning toast).
        if click is not None:
            message = f"Nothing to measure where you clicked ({e.message})."
        else:
            message = (
                f"No screw found in this photo ({e.message}). Click the screw on the photo to point it out, "
                "or lay it flat on a plain surface, fill more of the frame with it, and try again."
            )
        gr.Warning(message)
        return image, [], f"**{message}**", [], [], [], {"error": "no screw found", "message": message}
    except FvwError as e:
        raise gr.Error(str(e)) from e
    crops = [(img, _CROP_CAPTIONS.get(name, name)) for name, img in res.crops.items()]
    gallery = []
    for m in res.matches:
        try:
            thumb = engine.thumbnail(m.sku, 128)
        except FvwError:
            thumb = np.full((128, 128, 3), 230, np.uint8)
        gallery.append((thumb, f"{m.sku} · score {m.score:.2f}"))
    table = [
        [i + 1, m.sku, round(m.score, 3)] + [display_name(m.attributes[a][0]) for a in m.attributes]
        for i, m in enumerate(res.matches)
    ]
    summary = _summary(res)
    if res.clicked and click is not None:
        summary = f"Answer for the screw you clicked at ({click[0]:.0f}, {click[1]:.0f}).\n\n" + summary
    return res.overlay, crops, summary, _attribute_rows(res), gallery, table, res.to_json()


def build_demo(engine: SearchEngine, examples: Sequence[ExamplePhoto | str] | None = None) -> gr.Blocks:
    """The Gradio UI over ``engine``; ``examples`` are photos shown under the input: an
    :class:`core.search.engine.ExamplePhoto` also sets the coin lying in it (and labels the photo with what
    it shows), a plain path leaves the coin as chosen."""
    with gr.Blocks(title="Screw photo search") as demo:
        gr.Markdown(
            "# Screw photo search\nPhotograph a screw lying next to a coin; get the catalog SKUs that "
            "match, with the evidence: masks, measured size, per-attribute top-3."
        )
        with gr.Row():
            with gr.Column(scale=1):
                # A File input (not gr.Image) for uploads: our own decoder reads it, so a corrupt or huge
                # photo gets core.imageio's clear message instead of a generic preprocessing failure.
                with gr.Tab("Upload"):
                    photo = gr.File(file_types=["image"], type="filepath", label="Photo file")
                with gr.Tab("Webcam"):
                    webcam = gr.Image(sources=["webcam"], type="filepath", label="Webcam")
                coin = gr.Dropdown(choices=list(COINS_MM), value="euro_1", label="Coin in the photo")
                k = gr.Slider(1, 50, value=10, step=1, label="How many SKUs (K)")
                button = gr.Button("Search", variant="primary")
                if examples:
                    known = [e for e in examples if isinstance(e, ExamplePhoto)]
                    if len(known) == len(examples):  # each sets its coin too: sizes need the right one
                        gr.Examples(
                            examples=[[e.path, e.coin] for e in known],
                            inputs=[photo, coin],
                            example_labels=[e.label for e in known],
                            label="Studio photos (each sets its coin)",
                        )
                    else:
                        gr.Examples(
                            examples=[[str(p)] for p in examples], inputs=[photo], label="Studio photos"
                        )
            with gr.Column(scale=2):
                overlay = gr.Image(
                    label="Screw and coin found: outline missing or wrong? Click the screw",
                    interactive=False,
                )
                summary = gr.Markdown()
                crops = gr.Gallery(label="Canonical crops (head up)", columns=4, height=200)
        attrs = gr.Dataframe(
            headers=["attribute", "rank", "value", "probability"],
            label="Per-attribute top-3",
            interactive=False,
        )
        results = gr.Gallery(label="Top SKUs", columns=5, height=320)
        table = gr.Dataframe(
            headers=["rank", "sku", "score", "head", "finish", "tip", "thread"],
            label="Ranking",
            interactive=False,
        )
        raw = gr.JSON(label="JSON (as the API returns it)")

        def _run(p: str | None, cam: str | None, c: str, kk: float) -> tuple[Any, ...]:
            return handle_search(engine, p or cam, c, kk)

        outputs = [overlay, crops, summary, attrs, results, table, raw]
        button.click(_run, inputs=[photo, webcam, coin, k], outputs=outputs, api_name="search")

        def _new_photo(p: str | None) -> tuple[Any, ...]:  # a new photo: the last answer's evidence goes
            image = show_photo(p)
            ready = "Photo ready: press **Search**, or click the screw on it." if image is not None else ""
            return image, [], ready, [], [], [], None

        photo.change(_new_photo, inputs=[photo], outputs=outputs, api_visibility="private")
        webcam.change(_new_photo, inputs=[webcam], outputs=outputs, api_visibility="private")

        # A click on the photo (or on the overlay: the same pixels) searches for the screw there. The click's
        # pixel goes through two hidden numbers so that clients can call the same search (api "search_at").
        click_x, click_y = gr.Number(visible=False), gr.Number(visible=False)

        def _pick(evt: gr.SelectData) -> tuple[float, float]:
            return float(evt.index[0]), float(evt.index[1])

        def _run_at(
            p: str | None, cam: str | None, c: str, kk: float, x: float | None, y: float | None
        ) -> tuple[Any, ...]:
            if x is None or y is None:
                raise gr.Error("Click the screw on the photo first.")
            return handle_search(engine, p or cam, c, kk, click=(x, y))

        overlay.select(_pick, inputs=None, outputs=[click_x, click_y], api_visibility="private").then(
            _run_at, inputs=[photo, webcam, coin, k, click_x, click_y], outputs=outputs, api_name="search_at"
        )
    demo.queue(max_size=32, default_concurrency_limit=2)
    return demo


def warm_up(engine: SearchEngine, photos: list[str]) -> None:
    """Search the example photos before serving, up to the first that gives an answer: the first pass through
    torch and the classifiers is several times slower (lazy kernels), and the first user should not wait for
    it. Failures here are not fatal; the app reports errors per photo."""
    for photo in photos[:3]:
        try:
            engine.search(read_image(photo), k=1)
            return
        except FvwError:
            continue


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default: local only)")
    parser.add_argument("--port", type=int, default=7860)
    parser.add_argument("--share", action="store_true", help="ask Gradio for a public share link")
    parser.add_argument("--catalog", default=None, help="SQLite catalog (python -m core.catalog import ...)")
    parser.add_argument("--models", default=None, help="models folder (default: models/ or FVW_MODELS)")
    args = parser.parse_args(argv)
    from core.search.engine import default_engine, example_set

    try:
        engine = default_engine(Path(args.models) if args.models else None, args.catalog)
    except FvwError as e:
        parser.exit(2, f"error: {e}\n")
    examples = example_set()
    warm_up(engine, [e.path for e in examples])
    build_demo(engine, examples=examples).launch(
        server_name=args.host, server_port=args.port, share=args.share, max_file_size="60mb"
    )


if __name__ == "__main__":
    main()
